package session

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// The rules of the session cookie's attributes: when it carries Secure, and
// which attributes browsers require together. Manager.Cookie and
// Manager.CookieHeader write what these decide; CookieConfig.Validate
// refuses what browsers would drop.

// Validate reports every attribute of c that is out of range or that
// browsers refuse for a cookie named name ("" means the default, sid):
//
//   - Secure must be SecureAuto, SecureAlways or SecureNever;
//   - SameSite=None needs SecureAlways;
//   - a name with the __Host- prefix needs Secure (not SecureNever), Path
//     "/" and no Domain; one with the __Secure- prefix needs Secure;
//   - Partitioned needs Secure.
//
// The errors are joined *FieldErrors naming the field ("Cookie.Path"); each
// wraps ErrInvalidConfig. Zero values are allowed: they mean defaults.
// Config.Validate runs it; the stores config runs it too, so a config file
// is checked by the same rules.
func (c *CookieConfig) Validate(name string) error { return errors.Join(c.problems(name)...) }

// problems are Validate's errors, one per problem, for Config.Validate to
// list with its own.
func (c *CookieConfig) problems(name string) []error {
	var errs []error
	add := func(field, rule string, args ...any) {
		errs = append(errs, &FieldError{Field: "Cookie." + field, Rule: fmt.Sprintf(rule, args...)})
	}
	if c.Secure < SecureAuto || c.Secure > SecureNever {
		add("Secure", "is %d; must be SecureAuto, SecureAlways or SecureNever (auto, true, false)", int(c.Secure))
	}
	if c.SameSite == http.SameSiteNoneMode && c.Secure != SecureAlways {
		add("SameSite", "None requires Secure always (secure: true): browsers drop a SameSite=None cookie without Secure")
	}
	prefix := cookiePrefix(name)
	if prefix != "" && c.Secure == SecureNever {
		add("Secure", "must not be SecureNever (secure: false) for the cookie name %q: browsers drop a %s cookie without Secure", name, prefix)
	}
	if c.Partitioned && c.Secure == SecureNever {
		add("Secure", "must not be SecureNever (secure: false) with Partitioned: browsers drop a partitioned cookie without Secure")
	}
	if prefix == hostPrefix && c.Path != "" && c.Path != "/" {
		add("Path", "is %q; must be / (or empty) for the cookie name %q: browsers drop a __Host- cookie with another Path", c.Path, name)
	}
	if prefix == hostPrefix && c.Domain != "" {
		add("Domain", "is %q; must be empty for the cookie name %q: browsers drop a __Host- cookie with a Domain", c.Domain, name)
	}
	return errs
}

// The cookie name prefixes browsers give rules to (RFC 6265bis, 4.1.3).
const (
	hostPrefix   = "__Host-"
	securePrefix = "__Secure-"
)

// cookiePrefix returns hostPrefix or securePrefix when name starts with
// one, or "". Browsers match the prefixes without regard to case, so
// "__host-sid" counts too.
func cookiePrefix(name string) string {
	for _, p := range []string{hostPrefix, securePrefix} {
		if len(name) >= len(p) && strings.EqualFold(name[:len(p)], p) {
			return p
		}
	}
	return ""
}

// alwaysSecure reports whether the cookie named name carries Secure on
// every response: SecureAlways, or (under SecureAuto) a name prefix or
// Partitioned, which browsers accept only with Secure. SecureAuto's
// loopback exception would otherwise drop Secure on plain-HTTP localhost,
// and the browser would then drop the cookie.
func (c *CookieConfig) alwaysSecure(name string) bool {
	return c.Secure == SecureAlways || c.Secure == SecureAuto && (cookiePrefix(name) != "" || c.Partitioned)
}

// secure reports whether the cookie sent in the response to r carries
// Secure. SecureAuto leaves it off only for plain HTTP to a loopback host
// (see plainLoopback); a nil r counts as not loopback.
func (m *Manager) secure(r *http.Request) bool {
	switch {
	case m.alwaysSecure:
		return true
	case m.cfg.Cookie.Secure == SecureNever:
		return false
	}
	return !plainLoopback(r, m.cfg.Cookie.TrustProxy)
}

// plainLoopback reports whether r came over plain HTTP to a loopback host:
// no TLS (and, when trustProxy, no "X-Forwarded-Proto: https"), and a Host
// header that loopbackHost accepts. The Host header is the client's word;
// a client that lies about it can only drop Secure from its own cookie.
func plainLoopback(r *http.Request, trustProxy bool) bool {
	if r == nil || r.TLS != nil || trustProxy && strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https") {
		return false
	}
	return loopbackHost(r.Host)
}

// loopbackHost reports whether host, a Host header with or without a port,
// names the loopback interface: localhost or a name under .localhost (RFC
// 6761 reserves them for loopback), an address in 127.0.0.0/8, or ::1.
func loopbackHost(host string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	} else if strings.HasPrefix(host, "[") && strings.HasSuffix(host, "]") {
		host = host[1 : len(host)-1]
	}
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}
