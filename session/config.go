package session

import (
	"encoding/json"
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

	// Cookie holds the cookie attributes.
	Cookie CookieConfig

	// Codec encodes values. Default JSON.
	Codec Codec

	// Logger receives errors that cannot reach the caller (a change after the
	// response started, a patch dropped because the session ended
	// concurrently). Default slog.Default().
	Logger *slog.Logger

	// Now is the clock. Default time.Now. Tests inject their own.
	Now func() time.Time
}

// CookieConfig holds the attributes of the session cookie. The cookie is
// always HttpOnly: scripts never need the token, and an XSS bug must not be
// able to steal it.
type CookieConfig struct {
	Path     string        // default "/"
	Domain   string        // default "": the host that set it
	Secure   SecureMode    // default SecureAuto
	SameSite http.SameSite // default http.SameSiteLaxMode

	// SessionOnly sends the cookie without Max-Age, so the browser drops it
	// when it closes. Default false: the cookie lives as long as the session.
	SessionOnly bool

	// TrustProxy makes SecureAuto believe X-Forwarded-Proto: set it only
	// behind a TLS-terminating proxy that overwrites that header.
	TrustProxy bool
}

// SecureMode says when the cookie carries the Secure attribute. In a config
// file (package stores) it is written auto, true or false, Geddy's words:
// it implements encoding.TextMarshaler and TextUnmarshaler with those, and
// json.Unmarshaler, which takes a JSON boolean too.
type SecureMode int

const (
	// SecureAuto marks the cookie Secure when the request came over TLS
	// (or, with TrustProxy, when X-Forwarded-Proto says https). Text "auto".
	SecureAuto SecureMode = iota
	// SecureAlways always marks the cookie Secure. Text "true".
	SecureAlways
	// SecureNever never does. Text "false".
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

// Validate reports the first field of c that is out of range, naming the
// field and what is allowed. Zero values are allowed: they mean defaults.
func (c *Config) Validate() error {
	switch {
	case c.Store == nil:
		return invalid("Store", "is required")
	case c.CookieName != "" && !ValidCookieName(c.CookieName):
		return invalid("CookieName", "must be empty (default sid) or an HTTP token of at most 64 characters")
	case c.IdleTimeout < 0:
		return invalid("IdleTimeout", "must be positive, or 0 for the default of 14 days")
	case c.Lifetime < 0:
		return invalid("Lifetime", "must be positive, or 0 for none")
	case c.TouchInterval < 0 || c.IdleTimeout > 0 && c.TouchInterval >= c.IdleTimeout:
		return invalid("TouchInterval", "must be shorter than IdleTimeout, or 0 for IdleTimeout/10")
	case c.Cookie.Secure < SecureAuto || c.Cookie.Secure > SecureNever:
		return invalid("Cookie.Secure", "must be SecureAuto, SecureAlways or SecureNever")
	case c.Cookie.SameSite == http.SameSiteNoneMode && c.Cookie.Secure != SecureAlways:
		return invalid("Cookie.SameSite", "None requires Cookie.Secure = SecureAlways (browsers drop it otherwise)")
	}
	return nil
}

func invalid(field, rule string) error {
	return fmt.Errorf("%w: %s %s", ErrInvalidConfig, field, rule)
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
