package stores

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/sessionmesh/sessionmesh/session"
	"github.com/sessionmesh/sessionmesh/stores/cookie"
)

// minSecretBytes is the shortest cluster secret accepted: the gossip and
// peer keys are derived from it, so it must carry at least 128 bits.
const minSecretBytes = 16

// Validate reports every field that is out of range, each naming the field
// (as its YAML path) and what is allowed. The errors wrap
// session.ErrInvalidConfig. Settings of stores not selected are not checked.
func (c *Config) Validate() error {
	var errs []error
	add := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	add(c.validateCommon())
	add(c.Cookie.validate())
	switch c.storeName() {
	case Memory:
		if c.Cluster != nil {
			add(c.Cluster.validate())
		}
	case Cookie:
		add(validateKeys(c.Keys))
	case Memcache:
		add(validateAddrs("servers", c.Servers, true))
	case Redis:
		add(c.Server.validate())
	}
	return errors.Join(errs...)
}

func invalid(field, rule string, args ...any) error {
	return fmt.Errorf("stores: %w: sessions.%s %s", session.ErrInvalidConfig, field, fmt.Sprintf(rule, args...))
}

func (c *Config) validateCommon() error {
	switch {
	case c.storeName() != Memory && c.Store != Cookie && c.Store != Memcache && c.Store != Redis:
		return invalid("store", "is %q; allowed: memory, cookie, memcache, redis", c.Store)
	case c.Key != "" && !session.ValidCookieName(c.Key):
		return invalid("key", "is %q; want a cookie name: 1 to 64 letters, digits or !#$%%&'*+-.^_`|~", c.Key)
	case c.Expiry < 0:
		return invalid("expiry", "is %s; want a positive number of seconds, or 0 for 14 days", c.Expiry)
	case c.Lifetime < 0:
		return invalid("lifetime", "is %s; want a positive number of seconds, or 0 for none", c.Lifetime)
	}
	return nil
}

func (c *CookieConfig) validate() error {
	switch {
	case c.Secure != "" && c.Secure != SecureAuto && c.Secure != SecureTrue && c.Secure != SecureFalse:
		return invalid("cookie.secure", "is %q; allowed: auto, true, false", c.Secure)
	case !oneOf(strings.ToLower(c.SameSite), "", "lax", "strict", "none"):
		return invalid("cookie.sameSite", "is %q; allowed: lax, strict, none", c.SameSite)
	case strings.EqualFold(c.SameSite, "none") && c.Secure != SecureTrue:
		return invalid("cookie.sameSite", "is none, which requires cookie.secure: true (browsers drop the cookie otherwise)")
	case c.Path != "" && (c.Path[0] != '/' || !validAttr(c.Path)):
		return invalid("cookie.path", "is %q; want a path starting with / without ';' or control characters", c.Path)
	case !validAttr(c.Domain) || strings.ContainsAny(c.Domain, " /"):
		return invalid("cookie.domain", "is %q; want a host name", c.Domain)
	}
	return nil
}

func validateKeys(keys []string) error {
	if len(keys) == 0 {
		return invalid("keys", "is empty; store cookie needs at least one key \"ID:BASE64\" of 32 bytes (the first seals)")
	}
	seen := make(map[string]bool, len(keys))
	for i, s := range keys {
		k, err := cookie.ParseKey(s)
		if err != nil {
			return invalid(fmt.Sprintf("keys[%d]", i), "is not \"ID:BASE64\" with a 32-byte secret: %v", err)
		}
		if seen[k.ID] {
			return invalid(fmt.Sprintf("keys[%d]", i), "repeats key ID %q; IDs must be unique", k.ID)
		}
		seen[k.ID] = true
	}
	return nil
}

// validateAddrs checks a list of "host:port"; required says it may not be
// empty.
func validateAddrs(field string, addrs []string, required bool) error {
	if required && len(addrs) == 0 {
		return invalid(field, "is empty; want at least one host:port")
	}
	for i, a := range addrs {
		if err := validHostPort(a, false); err != nil {
			return invalid(fmt.Sprintf("%s[%d]", field, i), "is %q: %v", a, err)
		}
	}
	return nil
}

func (s *ServerConfig) validate() error {
	o := &s.Opts
	switch {
	case s.Port < 0 || s.Port > 65535:
		return invalid("server.port", "is %d; want 1 to 65535, or 0 for 6379", s.Port)
	case strings.ContainsAny(s.Host, " /"):
		return invalid("server.host", "is %q; want a host name or IP", s.Host)
	case o.DB < 0 || o.PoolSize < 0 || o.Retries < 0:
		return invalid("server.opts", "db, poolSize and retries must be 0 or more")
	case o.DialTimeout < 0 || o.Timeout < 0:
		return invalid("server.opts", "dialTimeout and timeout must be positive, or 0 for the defaults")
	case (s.TLS.Cert == "") != (s.TLS.Key == ""):
		return invalid("server.tls", "cert and key must be given together")
	}
	return validateAddrs("server.addrs", s.Addrs, false)
}

func (c *ClusterConfig) validate() error {
	if err := validHostPort(c.BindAddr(), true); err != nil {
		return invalid("cluster.bind", "is %q: %v", c.Bind, err)
	}
	if c.PeerBind != "" {
		if err := validHostPort(c.PeerBind, true); err != nil {
			return invalid("cluster.peerBind", "is %q: %v", c.PeerBind, err)
		}
	}
	for i, j := range c.Join {
		if j == "" || strings.ContainsAny(j, " /,") {
			return invalid(fmt.Sprintf("cluster.join[%d]", i), "is %q; want host or host:port", j)
		}
	}
	if c.Replicas < 0 || c.Replicas > 7 {
		return invalid("cluster.replicas", "is %d; want 1 to 7, or 0 for 2", c.Replicas)
	}
	return c.validateSecret()
}

func (c *ClusterConfig) validateSecret() error {
	if c.Secret == "" {
		if !loopback(c.BindAddr()) || c.Advertise != "" && !loopback(c.Advertise) {
			return invalid("cluster.secret", "is empty, but cluster.bind %q is not a loopback address: "+
				"set a secret (base64 of at least %d random bytes: openssl rand -base64 32) so that no one else can join or read the gossip",
				c.BindAddr(), minSecretBytes)
		}
		return nil
	}
	b, err := decodeBase64(c.Secret)
	if err != nil {
		return invalid("cluster.secret", "is not base64: %v", err)
	}
	if len(b) < minSecretBytes {
		return invalid("cluster.secret", "decodes to %d bytes; want at least %d", len(b), minSecretBytes)
	}
	return nil
}

// validHostPort checks "host:port"; with bind an empty host (all
// interfaces) and port 0 (any free port) are allowed.
func validHostPort(s string, bind bool) error {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return errors.New("want host:port")
	}
	n, err := strconv.Atoi(port)
	switch {
	case err != nil || n < 0 || n > 65535 || n == 0 && !bind:
		return fmt.Errorf("port %q is not 1 to 65535", port)
	case host == "" && !bind || strings.ContainsAny(host, " /"):
		return fmt.Errorf("host %q is not a host name or IP", host)
	}
	return nil
}

// loopback reports whether the host of addr ("host[:port]") is a loopback
// address or localhost.
func loopback(addr string) bool {
	host := addr
	if h, _, err := net.SplitHostPort(addr); err == nil {
		host = h
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func decodeBase64(s string) ([]byte, error) {
	s = strings.TrimRight(strings.TrimSpace(s), "=")
	if strings.ContainsAny(s, "-_") {
		return base64.RawURLEncoding.DecodeString(s)
	}
	return base64.RawStdEncoding.DecodeString(s)
}

func oneOf(s string, allowed ...string) bool {
	for _, a := range allowed {
		if s == a {
			return true
		}
	}
	return false
}

// validAttr reports whether s can go into a cookie attribute.
func validAttr(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < ' ' || c == 0x7f || c == ';' {
			return false
		}
	}
	return true
}
