package stores

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"reflect"
	"strconv"
	"strings"

	"github.com/sessionmesh/sessionmesh/cluster"
	"github.com/sessionmesh/sessionmesh/session"
	"github.com/sessionmesh/sessionmesh/stores/cookie"
)

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
	case c.CookieName != "" && !session.ValidCookieName(c.CookieName):
		return invalid("key", "is %q; want a cookie name: 1 to 64 letters, digits or !#$%%&'*+-.^_`|~", c.CookieName)
	case c.IdleTimeout < 0:
		return invalid("expiry", "is %s; want a positive number of seconds, or 0 for 14 days", c.IdleTimeout)
	case c.Lifetime < 0:
		return invalid("lifetime", "is %s; want a positive number of seconds, or 0 for none", c.Lifetime)
	case c.MaxSessions < 0:
		return invalid("maxSessions", "is %d; want a positive number, or 0 for no bound on the count", c.MaxSessions)
	case c.MaxBytes < -1 || c.MaxBytes > 0 && c.MaxBytes < 1<<20:
		return invalid("maxBytes", "is %s; want at least 1MiB (the largest session), 0 for 256MiB, or -1 for no bound", c.MaxBytes)
	}
	return nil
}

func (c *CookieConfig) validate() error {
	switch {
	case c.Secure < session.SecureAuto || c.Secure > session.SecureNever:
		return invalid("cookie.secure", "is %d; allowed: auto, true, false", c.Secure)
	case !oneOf(strings.ToLower(c.SameSite), "", "lax", "strict", "none"):
		return invalid("cookie.sameSite", "is %q; allowed: lax, strict, none", c.SameSite)
	case strings.EqualFold(c.SameSite, "none") && c.Secure != session.SecureAlways:
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
		if err := validHostPort(a); err != nil {
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

// validate checks the block with the cluster's own rules
// (cluster.Config.Validate: addresses, seeds, replicas, the secrets' length
// and count, and a secret required off loopback) and names every field
// out of range as the YAML spells it. Only the secrets' encoding, base64,
// and where they come from (secretsSource) are rules of this package.
func (c *ClusterConfig) validate() error {
	secrets, err := c.SecretList()
	if err != nil {
		return err
	}
	node := c.node(secrets, nil)
	joined, ok := node.Validate().(interface{ Unwrap() []error })
	if !ok {
		return nil
	}
	var errs []error
	for _, err := range joined.Unwrap() {
		var fe *cluster.FieldError
		if !errors.As(err, &fe) {
			errs = append(errs, err)
			continue
		}
		rule := fe.Rule
		if errors.Is(err, cluster.ErrNoSecret) {
			rule += ", written in base64 (openssl rand -base64 32)"
		}
		errs = append(errs, invalid("cluster."+c.yamlField(fe.Field), "%s", rule))
	}
	return errors.Join(errs...)
}

// yamlKey is the YAML key of block's Go field, an index kept:
// yamlKey(ClusterConfig{}, "Join[2]") is "join[2]". A name block has no
// field for stays as it is.
func yamlKey(block any, field string) string {
	name, index, indexed := strings.Cut(field, "[")
	f, ok := reflect.TypeOf(block).FieldByName(name)
	if !ok {
		return field
	}
	key, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	if indexed {
		key += "[" + index
	}
	return key
}

// validHostPort checks "host:port" of a server to dial.
func validHostPort(s string) error {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return errors.New("want host:port")
	}
	n, err := strconv.Atoi(port)
	switch {
	case err != nil || n < 1 || n > 65535:
		return fmt.Errorf("port %q is not 1 to 65535", port)
	case host == "" || strings.ContainsAny(host, " /"):
		return fmt.Errorf("host %q is not a host name or IP", host)
	}
	return nil
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
