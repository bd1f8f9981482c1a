package stores

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// envVar is one SESSIONS_* variable and the field it sets.
type envVar struct {
	name string
	set  func(c *Config, v string) error
}

// envVars lists every override, in the order the README documents them.
var envVars = []envVar{
	{"SESSIONS_STORE", str(func(c *Config) *string { return &c.Store })},
	{"SESSIONS_KEY", str(func(c *Config) *string { return &c.CookieName })},
	{"SESSIONS_EXPIRY", dur(func(c *Config) *Duration { return &c.IdleTimeout })},
	{"SESSIONS_LIFETIME", dur(func(c *Config) *Duration { return &c.Lifetime })},
	{"SESSIONS_REMEMBER_ME_EXPIRY", dur(func(c *Config) *Duration { return &c.RememberMe.IdleTimeout })},
	{"SESSIONS_REMEMBER_ME_LIFETIME", dur(func(c *Config) *Duration { return &c.RememberMe.Lifetime })},
	{"SESSIONS_MAX_SESSIONS", integer(func(c *Config) *int { return &c.MaxSessions })},
	{"SESSIONS_MAX_BYTES", func(c *Config, v string) error {
		s, err := ParseSize(v)
		c.MaxBytes = s
		return err
	}},
	{"SESSIONS_COOKIE_SECURE", func(c *Config, v string) error { return c.Cookie.Secure.UnmarshalText([]byte(v)) }},
	{"SESSIONS_COOKIE_SAMESITE", str(func(c *Config) *string { return &c.Cookie.SameSite })},
	{"SESSIONS_COOKIE_DOMAIN", str(func(c *Config) *string { return &c.Cookie.Domain })},
	{"SESSIONS_COOKIE_PATH", str(func(c *Config) *string { return &c.Cookie.Path })},
	{"SESSIONS_COOKIE_TRUST_PROXY", boolean(func(c *Config) *bool { return &c.Cookie.TrustProxy })},
	{"SESSIONS_COOKIE_PARTITIONED", boolean(func(c *Config) *bool { return &c.Cookie.Partitioned })},
	{"SESSIONS_KEYS", list(func(c *Config) *[]string { return &c.Keys })},
	{"SESSIONS_SEAL_KEYS", list(func(c *Config) *[]string { return &c.SealKeys })},
	{"SESSIONS_SERVERS", list(func(c *Config) *[]string { return &c.Servers })},
	{"SESSIONS_SERVER_HOST", str(func(c *Config) *string { return &c.Server.Host })},
	{"SESSIONS_SERVER_PORT", integer(func(c *Config) *int { return &c.Server.Port })},
	{"SESSIONS_SERVER_AUTH", str(func(c *Config) *string { return &c.Server.Auth })},
	{"SESSIONS_SERVER_USERNAME", str(func(c *Config) *string { return &c.Server.Username })},
	{"SESSIONS_SERVER_SENTINEL_AUTH", str(func(c *Config) *string { return &c.Server.SentinelAuth })},
	{"SESSIONS_SERVER_NS", str(func(c *Config) *string { return &c.Server.NS })},
	{"SESSIONS_SERVER_ADDRS", list(func(c *Config) *[]string { return &c.Server.Addrs })},
	{"SESSIONS_SERVER_MASTER", str(func(c *Config) *string { return &c.Server.Master })},
	{"SESSIONS_SERVER_TLS", boolean(func(c *Config) *bool { return &c.Server.TLS.Enabled })},
	{"SESSIONS_SERVER_TLS_CA", str(func(c *Config) *string { return &c.Server.TLS.CA })},
	{"SESSIONS_SERVER_TLS_CERT", str(func(c *Config) *string { return &c.Server.TLS.Cert })},
	{"SESSIONS_SERVER_TLS_KEY", str(func(c *Config) *string { return &c.Server.TLS.Key })},
	{"SESSIONS_SERVER_TLS_SERVER_NAME", str(func(c *Config) *string { return &c.Server.TLS.ServerName })},
	{"SESSIONS_REVOKE_STORE", str(func(c *Config) *string { return &c.Revoke.Store })},
	{"SESSIONS_REVOKE_CACHE", dur(func(c *Config) *Duration { return &c.Revoke.Cache })},
	{"SESSIONS_REVOKE_ON_DESTROY", boolean(func(c *Config) *bool { return &c.Revoke.OnDestroy })},
	{"SESSIONS_CLUSTER_NAME", str(func(c *Config) *string { return &c.cluster().Name })},
	{"SESSIONS_CLUSTER_BIND", str(func(c *Config) *string { return &c.cluster().Bind })},
	{"SESSIONS_CLUSTER_ADVERTISE", str(func(c *Config) *string { return &c.cluster().Advertise })},
	{"SESSIONS_CLUSTER_PEER_BIND", str(func(c *Config) *string { return &c.cluster().PeerBind })},
	{"SESSIONS_CLUSTER_JOIN", list(func(c *Config) *[]string { return &c.cluster().Join })},
	{"SESSIONS_CLUSTER_REPLICAS", integer(func(c *Config) *int { return &c.cluster().Replicas })},
	{"SESSIONS_CLUSTER_SECRET", str(func(c *Config) *string { return &c.cluster().Secret })},
	{"SESSIONS_CLUSTER_SECRETS", list(func(c *Config) *[]string { return &c.cluster().Secrets })},
	{"SESSIONS_CLUSTER_SECRET_FILE", str(func(c *Config) *string { return &c.cluster().SecretFile })},
	{"SESSIONS_CLUSTER_QUORUM", optionalBool(func(c *Config) **bool { return &c.cluster().Quorum })},
	{"SESSIONS_CLUSTER_SNAPSHOT", str(func(c *Config) *string { return &c.cluster().Snapshot })},
	{"SESSIONS_CLUSTER_BACKUP_READS", optionalBool(func(c *Config) **bool { return &c.cluster().BackupReads })},
	{"SESSIONS_CLUSTER_INSECURE", boolean(func(c *Config) *bool { return &c.cluster().Insecure })},
	{"SESSIONS_CLUSTER_TLS_CA", str(func(c *Config) *string { return &c.cluster().TLS.CA })},
	{"SESSIONS_CLUSTER_TLS_CERT", str(func(c *Config) *string { return &c.cluster().TLS.Cert })},
	{"SESSIONS_CLUSTER_TLS_KEY", str(func(c *Config) *string { return &c.cluster().TLS.Key })},
}

// EnvVars returns the names of the variables ApplyEnv reads.
func EnvVars() []string {
	names := make([]string, len(envVars))
	for i, e := range envVars {
		names[i] = e.name
	}
	return names
}

// ApplyEnv overrides c with the SESSIONS_* variables that lookup finds
// (os.LookupEnv in production). An empty variable counts as unset, so a
// compose file can pass "${VAR:-}" through. Lists are comma-separated. The
// first value that does not parse is an error naming the variable.
func (c *Config) ApplyEnv(lookup func(string) (string, bool)) error {
	for _, e := range envVars {
		v, ok := lookup(e.name)
		if v = strings.TrimSpace(v); !ok || v == "" {
			continue
		}
		if err := e.set(c, v); err != nil {
			return fmt.Errorf("stores: env %s=%q: %w", e.name, v, err)
		}
	}
	return nil
}

// FromEnv returns DefaultConfig with the process environment applied.
func FromEnv() (Config, error) {
	c := DefaultConfig()
	err := c.ApplyEnv(os.LookupEnv)
	return c, err
}

// cluster returns the cluster block, creating it: setting any cluster
// variable asks for a cluster.
func (c *Config) cluster() *ClusterConfig {
	if c.Cluster == nil {
		c.Cluster = &ClusterConfig{}
	}
	return c.Cluster
}

func str(field func(*Config) *string) func(*Config, string) error {
	return func(c *Config, v string) error {
		*field(c) = v
		return nil
	}
}

func list(field func(*Config) *[]string) func(*Config, string) error {
	return func(c *Config, v string) error {
		var items []string
		for _, s := range strings.Split(v, ",") {
			if s = strings.TrimSpace(s); s != "" {
				items = append(items, s)
			}
		}
		*field(c) = items
		return nil
	}
}

func dur(field func(*Config) *Duration) func(*Config, string) error {
	return func(c *Config, v string) error {
		d, err := ParseDuration(v)
		if err == nil {
			*field(c) = d
		}
		return err
	}
}

func integer(field func(*Config) *int) func(*Config, string) error {
	return func(c *Config, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil {
			return fmt.Errorf("want an integer")
		}
		*field(c) = n
		return nil
	}
}

// optionalBool sets a field whose nil means its default.
func optionalBool(field func(*Config) **bool) func(*Config, string) error {
	return func(c *Config, v string) error {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("want true or false")
		}
		*field(c) = &b
		return nil
	}
}

func boolean(field func(*Config) *bool) func(*Config, string) error {
	return func(c *Config, v string) error {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("want true or false")
		}
		*field(c) = b
		return nil
	}
}
