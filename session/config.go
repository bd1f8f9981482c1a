package session

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Config configures a Manager. Start from DefaultConfig; the zero value of
// every field but Store means its default. The Manager copies the Config:
// changing it after NewManager has no effect.
type Config struct {
	// Store keeps the sessions. Required.
	Store Store

	// CookieName is the name of the session cookie (Geddy's "key").
	// Default "sid".
	CookieName string

	// IdleTimeout ends a session that saw no write for this long (Geddy's
	// "expiry"). Default 14 days.
	IdleTimeout time.Duration

	// Lifetime, when positive, ends a session this long after it was created,
	// however active it is. Default 0: no absolute lifetime.
	Lifetime time.Duration

	// TouchInterval is how old the last write of an unchanged session may be
	// before a request re-writes it to slide its idle deadline. Smaller means
	// more writes on read-only requests; larger means a session can end up to
	// TouchInterval earlier than IdleTimeout after its last request.
	// Default IdleTimeout/10 (the cookie's Max-Age slides with it).
	TouchInterval time.Duration

	// RememberMe is what Session.RememberMe gives a session: its own
	// timeouts (see Timeouts), typically longer ones chosen at login.
	// Default (all fields zero) DefaultRememberMe: 30 days of idle
	// timeout.
	RememberMe Timeouts

	// Cookie holds the cookie attributes.
	Cookie CookieConfig

	// Codec encodes values. Default JSON.
	Codec Codec

	// Revoker, when set, makes sessions with a principal revocable
	// (Manager.RevokePrincipal), on every store: see Revoker. It costs one
	// Generation lookup per request that loads a session with a principal
	// (RevokerCache trades that for delay). Default nil: no lookup, and
	// RevokePrincipal fails with errors.ErrUnsupported.
	Revoker Revoker

	// RevokerCache, when positive, lets a Manager reuse a generation the
	// Revoker gave for this long: fewer lookups, but a session revoked on
	// another worker may go on loading here for up to RevokerCache (a
	// revoke through this Manager is seen at once). Default 0: every load
	// of a session with a principal asks the Revoker.
	RevokerCache time.Duration

	// RevokeOnDestroy makes Destroy of a session with a principal revoke
	// the principal: logging out logs out everywhere, and a copy of the
	// cookie (the cookie store's) no longer opens. Default false: Destroy
	// ends this session only, and a handler that wants "log out
	// everywhere" calls RevokePrincipal. Requires Revoker.
	RevokeOnDestroy bool

	// OnEvent, when set, is called with every session event, for an
	// audit log (see Event): created, renewed and destroyed once the store
	// acknowledged the request's write, on the worker that served it
	// (never for a write that failed); expired and evicted when the store
	// removes a session itself, which only an EventSource store reports
	// (memory, cluster). It is called synchronously, from the request's or
	// the store's sweeper's goroutine, so it must be fast (hand slow work
	// to a goroutine of your own) and must not use the request's Session;
	// a panic in it is recovered and logged. Of several Managers over one
	// store, the last one made with an OnEvent hook gets the store's
	// expired and evicted events (one without a hook leaves an earlier
	// hook in place), and the store keeps that Manager for as long as it
	// lives. Default nil: no events, at no cost.
	OnEvent func(Event)

	// Logger receives errors that cannot reach the caller (a change after the
	// response started, a patch dropped because the session ended
	// concurrently). Default slog.Default().
	Logger *slog.Logger

	// Now is the clock. Default time.Now. Tests inject their own.
	Now func() time.Time
}

// CookieConfig holds the attributes of the session cookie. The cookie is
// always HttpOnly: scripts never need the token, and an XSS bug must not be
// able to steal it. Validate lists the combinations browsers refuse.
type CookieConfig struct {
	Path     string        // default "/"
	Domain   string        // default "": the host that set it
	Secure   SecureMode    // default SecureAuto: Secure unless plain HTTP to loopback
	SameSite http.SameSite // default http.SameSiteLaxMode

	// SessionOnly sends the cookie without Max-Age, so the browser drops it
	// when it closes. Default false: the cookie lives as long as the session.
	// A session with its own Timeouts (SetTimeouts, RememberMe) follows
	// their SessionCookie instead.
	SessionOnly bool

	// Partitioned adds the Partitioned attribute (CHIPS): a browser keeps a
	// separate cookie for every top-level site that embeds this one, for an
	// app served in a cross-site iframe (with SameSite=None). It needs
	// Secure: SecureNever is refused, and SecureAuto then always sets
	// Secure. Browsers without CHIPS ignore the attribute. Default false.
	Partitioned bool

	// TrustProxy makes SecureAuto believe "X-Forwarded-Proto: https": set
	// it only behind a TLS-terminating proxy that overwrites that header.
	// It matters only when the proxy sends a loopback Host (nginx's default
	// proxy_set_header Host $proxy_host does): any other Host gets Secure
	// anyway. Default false.
	TrustProxy bool
}

// SecureMode says when the cookie carries the Secure attribute. In a config
// file (package stores) it is written auto, true or false, Geddy's words:
// it implements encoding.TextMarshaler and TextUnmarshaler with those, and
// json.Unmarshaler, which takes a JSON boolean too.
//
// Whatever the mode, a cookie name with the __Host- or __Secure- prefix, or
// a Partitioned cookie, is always Secure (browsers drop it otherwise), and
// SecureNever is refused for it by Validate.
type SecureMode int

const (
	// SecureAuto marks the cookie Secure on every response but one to plain
	// HTTP whose Host is loopback: localhost, a name under .localhost,
	// 127.0.0.0/8 or ::1, with or without a port. A request counts as plain
	// HTTP when it did not come over TLS and (with TrustProxy) has no
	// "X-Forwarded-Proto: https". So `go run ./cmd/demo` on
	// http://localhost:8080 works with curl and browsers, while a deployment
	// behind a TLS-terminating proxy that was not declared (no TrustProxy)
	// still gets Secure cookies, since the proxy passes the public Host. A
	// proxy that rewrites Host to a loopback address defeats this: set
	// SecureAlways there, or pass the Host through. Text "auto".
	SecureAuto SecureMode = iota
	// SecureAlways always marks the cookie Secure. Text "true".
	SecureAlways
	// SecureNever never does: the development override for plain HTTP to a
	// host that is not loopback (a container name, a LAN address), where a
	// client would not send a Secure cookie back. Never in production.
	// Text "false".
	SecureNever
)

// secureWords are the config-file words of the SecureModes, by value.
var secureWords = [...]string{SecureAuto: "auto", SecureAlways: "true", SecureNever: "false"}

// MarshalText returns auto, true or false.
func (m SecureMode) MarshalText() ([]byte, error) {
	if m < SecureAuto || m > SecureNever {
		return nil, fmt.Errorf("session: SecureMode %d has no name; want SecureAuto, SecureAlways or SecureNever", int(m))
	}
	return []byte(secureWords[m]), nil
}

// UnmarshalText reads auto, true or false; empty means auto.
func (m *SecureMode) UnmarshalText(text []byte) error {
	if len(text) == 0 {
		*m = SecureAuto
		return nil
	}
	for v, w := range secureWords {
		if string(text) == w {
			*m = SecureMode(v)
			return nil
		}
	}
	return fmt.Errorf("session: secure: want auto, true or false, got %q", text)
}

// UnmarshalJSON reads true, false, or a string UnmarshalText reads.
func (m *SecureMode) UnmarshalJSON(b []byte) error {
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	switch v := v.(type) {
	case bool:
		return m.UnmarshalText(strconv.AppendBool(nil, v))
	case string:
		return m.UnmarshalText([]byte(v))
	}
	return fmt.Errorf("session: secure: want auto, true or false, got %s", b)
}

// DefaultConfig returns a Config with every default filled in and store set,
// except TouchInterval, which stays 0 ("IdleTimeout/10") so that a caller
// who then shortens IdleTimeout gets a TouchInterval that follows it.
func DefaultConfig(store Store) Config {
	c := Config{Store: store}
	c.setDefaults()
	c.TouchInterval = 0
	return c
}

func (c *Config) setDefaults() {
	if c.CookieName == "" {
		c.CookieName = "sid"
	}
	if c.IdleTimeout == 0 {
		c.IdleTimeout = 14 * 24 * time.Hour
	}
	if c.TouchInterval == 0 {
		c.TouchInterval = c.IdleTimeout / 10
	}
	if c.RememberMe == (Timeouts{}) {
		c.RememberMe = DefaultRememberMe
	}
	if c.Cookie.Path == "" {
		c.Cookie.Path = "/"
	}
	if c.Cookie.SameSite == 0 {
		c.Cookie.SameSite = http.SameSiteLaxMode
	}
	if c.Codec == nil {
		c.Codec = JSON{}
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// Validate reports every field of c that is out of range, naming the field
// and what is allowed: the errors are joined *FieldErrors, each wrapping
// ErrInvalidConfig. Zero values are allowed: they mean defaults.
func (c *Config) Validate() error {
	var errs []error
	add := func(field, rule string) { errs = append(errs, &FieldError{Field: field, Rule: rule}) }
	if c.Store == nil {
		add("Store", "is required")
	}
	if c.CookieName != "" && !ValidCookieName(c.CookieName) {
		add("CookieName", "must be empty (default sid) or an HTTP token of at most 64 characters")
	}
	if c.IdleTimeout < 0 {
		add("IdleTimeout", "must be positive, or 0 for the default of 14 days")
	}
	if c.Lifetime < 0 {
		add("Lifetime", "must be positive, or 0 for none")
	}
	if c.RevokerCache < 0 || c.RevokerCache > 0 && c.Revoker == nil {
		add("RevokerCache", "must be 0, or positive with a Revoker")
	}
	if c.RevokeOnDestroy && c.Revoker == nil {
		add("RevokeOnDestroy", "requires a Revoker")
	}
	if c.TouchInterval < 0 || c.IdleTimeout > 0 && c.TouchInterval >= c.IdleTimeout {
		add("TouchInterval", "must be shorter than IdleTimeout, or 0 for IdleTimeout/10")
	}
	errs = append(errs, c.RememberMe.problems("RememberMe.")...)
	return errors.Join(append(errs, c.Cookie.problems(c.CookieName)...)...)
}

// ValidCookieName reports whether name can be a session cookie's name: an
// HTTP token (RFC 7230: printable ASCII without spaces or separators) of 1 to
// 64 bytes. The cookie store and the stores config use the same rule, so a
// name one accepts the others do too.
func ValidCookieName(name string) bool {
	if len(name) == 0 || len(name) > 64 {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`()<>@,;:\"/[]?={}`, c) >= 0 {
			return false
		}
	}
	return true
}
