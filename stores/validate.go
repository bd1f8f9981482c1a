package stores

import (
	"cmp"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"reflect"
	"strconv"
	"strings"

	"github.com/sessionmesh/sessionmesh/cluster"
	"github.com/sessionmesh/sessionmesh/session"
	"github.com/sessionmesh/sessionmesh/stores/internal/aead"
	"github.com/sessionmesh/sessionmesh/stores/redis"
)

// Validate reports every field that is out of range, each naming the field
// (as its YAML path) and what is allowed. The errors wrap
// session.ErrInvalidConfig. Settings of stores not selected are not checked.
func (c *Config) Validate() error {
	var p problems
	p.add(c.validateCommon())
	p.add(c.validateCookie())
	p.add(c.validateRevoke())
	switch c.storeName() {
	case Memory:
		if c.Cluster != nil {
			p.add(c.Cluster.validate())
		}
	case Cookie:
		p.add(validateKeys("keys", c.Keys, true))
	case Memcache:
		p.add(validateMemcacheServers(c.Servers))
		p.add(validateKeys("sealKeys", c.SealKeys, false))
	case Redis:
		p.add(c.Server.validate())
		p.add(validateKeys("sealKeys", c.SealKeys, false))
	}
	return p.join()
}

func invalid(field, rule string, args ...any) error {
	return fmt.Errorf("stores: %w: sessions.%s %s", session.ErrInvalidConfig, field, fmt.Sprintf(rule, args...))
}

// problems collects the errors of one block: check adds one when a rule is
// broken, so a block reports every problem, not only its first.
type problems []error

func (p *problems) check(bad bool, field, rule string, args ...any) {
	if bad {
		*p = append(*p, invalid(field, rule, args...))
	}
}

func (p *problems) add(err error) {
	if err != nil {
		*p = append(*p, err)
	}
}

func (p problems) join() error { return errors.Join(p...) }

func (c *Config) validateCommon() error {
	var p problems
	_, registered := opener(c.storeName())
	p.check(!builtin(c.storeName()) && !registered,
		"store", "is %q; allowed: %s", c.Store, strings.Join(storeNames(), ", "))
	p.check(len(c.Options) > 0 && builtin(c.storeName()),
		"options", "is set, but store %s takes no options (they are for a store added with stores.Register)", c.storeName())
	p.check(c.CookieName != "" && !session.ValidCookieName(c.CookieName),
		"key", "is %q; want a cookie name: 1 to 64 letters, digits or !#$%%&'*+-.^_`|~", c.CookieName)
	p.check(c.IdleTimeout < 0, "expiry", "is %s; want a positive number of seconds, or 0 for 14 days", c.IdleTimeout)
	p.check(c.Lifetime < 0, "lifetime", "is %s; want a positive number of seconds, or 0 for none", c.Lifetime)
	p.check(c.RememberMe.IdleTimeout < 0, "rememberMe.expiry", "is %s; want a positive number of seconds, or 0 for 30 days", c.RememberMe.IdleTimeout)
	p.check(c.RememberMe.Lifetime < 0, "rememberMe.lifetime", "is %s; want a positive number of seconds, or 0 for sessions.lifetime", c.RememberMe.Lifetime)
	p.check(c.MaxSessions < 0, "maxSessions", "is %d; want a positive number, or 0 for no bound on the count", c.MaxSessions)
	p.check(c.MaxBytes < -1 || c.MaxBytes > 0 && c.MaxBytes < 1<<20,
		"maxBytes", "is %s; want at least 1MiB (the largest session), 0 for 256MiB, or -1 for no bound", c.MaxBytes)
	return p.join()
}

// validateCookie checks sessions.cookie: the spelling of its values here,
// and what browsers require of a cookie's name and attributes together
// (Secure's mode, SameSite=None, the __Host- and __Secure- prefixes,
// Partitioned) with the session package's rules,
// session.CookieConfig.Validate, each named by its YAML key.
func (c *Config) validateCookie() error {
	errs := []error{c.Cookie.validate()}
	cookie := c.Session(nil).Cookie
	if j, ok := cookie.Validate(c.CookieName).(interface{ Unwrap() []error }); ok {
		for _, err := range j.Unwrap() {
			var fe *session.FieldError
			if errors.As(err, &fe) {
				field := yamlKey(CookieConfig{}, strings.TrimPrefix(fe.Field, "Cookie."))
				err = invalid("cookie."+field, "%s", fe.Rule)
			}
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (c *CookieConfig) validate() error {
	var p problems
	p.check(!oneOf(strings.ToLower(c.SameSite), "", "lax", "strict", "none"), "cookie.sameSite", "is %q; allowed: lax, strict, none", c.SameSite)
	p.check(c.Path != "" && (c.Path[0] != '/' || !validAttr(c.Path)),
		"cookie.path", "is %q; want a path starting with / without ';' or control characters", c.Path)
	p.check(!validAttr(c.Domain) || strings.ContainsAny(c.Domain, " /"), "cookie.domain", "is %q; want a host name", c.Domain)
	return p.join()
}

// validateKeys checks a list of "ID:BASE64" keys (the cookie store's, or
// the sealing keys of Redis and Memcache); required says it may not be
// empty.
func validateKeys(field string, keys []string, required bool) error {
	if required && len(keys) == 0 {
		return invalid(field, "is empty; store cookie needs at least one key \"ID:BASE64\" of 32 bytes (the first seals)")
	}
	var p problems
	seen := make(map[string]bool, len(keys))
	for i, s := range keys {
		k, err := aead.ParseKey(s)
		if err != nil {
			p.check(true, fmt.Sprintf("%s[%d]", field, i), "is not \"ID:BASE64\" with a 32-byte secret: %v", err)
			continue
		}
		p.check(seen[k.ID], fmt.Sprintf("%s[%d]", field, i), "repeats key ID %q; IDs must be unique", k.ID)
		seen[k.ID] = true
	}
	return p.join()
}

// validateAddrs checks a list of "host:port", and absolute Unix socket
// paths when sockets is set; required says it may not be empty.
func validateAddrs(field string, addrs []string, required, sockets bool) error {
	want, or := "host:port", ""
	if sockets {
		want, or = "host:port or Unix socket path", ", or the absolute path of a Unix socket"
	}
	if required && len(addrs) == 0 {
		return invalid(field, "is empty; want at least one %s", want)
	}
	var p problems
	for i, a := range addrs {
		if sockets && strings.HasPrefix(a, "/") {
			continue
		}
		if err := validHostPort(a); err != nil {
			p.check(true, fmt.Sprintf("%s[%d]", field, i), "is %q: %v%s", a, err, or)
		}
	}
	return p.join()
}

// validateMemcacheServers checks sessions.servers as the memcache store
// takes them: host:port or the absolute path of a Unix socket, each named
// once (the ring gives a name listed twice no more weight).
func validateMemcacheServers(servers []string) error {
	var p problems
	p.add(validateAddrs("servers", servers, true, true))
	seen := make(map[string]bool, len(servers))
	for i, a := range servers {
		p.check(seen[a], fmt.Sprintf("servers[%d]", i), "repeats %q; name each server once (one listed twice has no more weight on the ring)", a)
		seen[a] = true
	}
	return p.join()
}

// validate checks the block with the Redis store's own rules
// (redis.Config.Validate), naming each field by its YAML key, and the
// rules of the block's own shape: host and port, each address, the TLS
// files given in pairs.
func (s *ServerConfig) validate() error {
	var p problems
	p.check(s.Port < 0 || s.Port > 65535, "server.port", "is %d; want 1 to 65535, or 0 for 6379", s.Port)
	p.check(strings.ContainsAny(s.Host, " /"), "server.host", "is %q; want a host name or IP", s.Host)
	p.check((s.TLS.Cert == "") != (s.TLS.Key == ""), "server.tls", "cert and key must be given together")
	p.add(validateAddrs("server.addrs", s.Addrs, false, false))
	rc := s.redis()
	for _, err := range leaves(rc.Validate()) {
		var fe *redis.FieldError
		switch {
		case !errors.As(err, &fe):
			p.add(err)
		case fe.Field != "Addrs": // checked above, address by address
			p.add(invalid(cmp.Or(redisYAML[fe.Field], "server."+fe.Field), "%s", fe.Rule))
		}
	}
	return p.join()
}

// redisYAML names the fields of redis.Config that the server block sets
// by their YAML keys.
var redisYAML = map[string]string{
	"MasterName":  "server.master",
	"Cluster":     "server.opts.cluster",
	"DB":          "server.opts.db",
	"Prefix":      "server.ns",
	"DialTimeout": "server.opts.dialTimeout",
	"Timeout":     "server.opts.timeout",
	"PoolSize":    "server.opts.poolSize",
	"Retries":     "server.opts.retries",
}

// validate checks the block with the cluster's own rules
// (cluster.Config.Validate: addresses, seeds, replicas, the secrets' length
// and count, and a secret required off loopback) and names every field
// out of range as the YAML spells it. Only the secrets' encoding, base64,
// where they come from (SecretList), and that the TLS files are all
// named (ClusterTLS.Certs) are rules of this package.
func (c *ClusterConfig) validate() error {
	var p problems
	secrets, badSecrets := c.SecretList()
	p.add(badSecrets)
	node := c.node(secrets, nil)
	certs, badCerts := c.TLS.Certs()
	p.add(badCerts)
	node.Certs = certs
	for _, err := range leaves(node.Validate()) {
		var fe *cluster.FieldError
		if badSecrets != nil && errors.As(err, &fe) && strings.HasPrefix(fe.Field, "Secret") {
			continue // said above: the secrets could not be read
		}
		p.add(c.problem(err))
	}
	return p.join()
}

// problem names the field of one of the cluster's errors by its YAML key.
func (c *ClusterConfig) problem(err error) error {
	var fe *cluster.FieldError
	if !errors.As(err, &fe) {
		return err
	}
	rule := fe.Rule
	if errors.Is(err, cluster.ErrNoSecret) {
		rule += ", written in base64 (openssl rand -base64 32)"
	}
	return invalid("cluster."+c.yamlField(fe.Field), "%s", rule)
}

// leaves splits an errors.Join into the errors it joins (recursively); any
// other error, nil excepted, is its own single leaf.
func leaves(err error) []error {
	joined, ok := err.(interface{ Unwrap() []error })
	if !ok {
		if err == nil {
			return nil
		}
		return []error{err}
	}
	var out []error
	for _, e := range joined.Unwrap() {
		out = append(out, leaves(e)...)
	}
	return out
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
