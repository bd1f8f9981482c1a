package stores

import (
	"fmt"
	"log/slog"
	"strings"
)

// Printing or logging a config never shows a secret: String, GoString
// and LogValue replace the cookie and sealing keys' secrets, the Redis
// passwords, the cluster secret and every value of a registered store's
// options with "<secret>" (an unset one stays empty, so that a
// log still says whether it was given). Marshalling it (JSON, YAML) writes
// them: that is for writing a config file, not for logs.

// secretMark is what a printed config shows for a secret.
const secretMark = "<secret>"

// mask returns secretMark for a secret that is set, "" for one that is not.
func mask(s string) string {
	if s == "" {
		return ""
	}
	return secretMark
}

// redacted returns a copy of c with every secret masked.
func (c Config) redacted() Config {
	c.Keys, c.SealKeys = maskKeys(c.Keys), maskKeys(c.SealKeys)
	c.Server = c.Server.redacted()
	if c.Options != nil {
		// A registered store's options may hold anything, a password too:
		// their names show, their values do not.
		opts := make(map[string]any, len(c.Options))
		for k := range c.Options {
			opts[k] = secretMark
		}
		c.Options = opts
	}
	if c.Cluster != nil {
		cc := c.Cluster.redacted()
		c.Cluster = &cc
	}
	return c
}

// maskKeys returns "ID:BASE64" keys with their secrets masked.
func maskKeys(keys []string) []string {
	if keys == nil {
		return nil
	}
	masked := make([]string, len(keys))
	for i, k := range keys {
		id, _, _ := strings.Cut(k, ":")
		masked[i] = id + ":" + secretMark
	}
	return masked
}

// String implements fmt.Stringer without the secrets.
func (c Config) String() string {
	type plain Config // without the methods: no recursion
	return fmt.Sprintf("%+v", plain(c.redacted()))
}

// GoString implements fmt.GoStringer (%#v) without the secrets.
func (c Config) GoString() string { return "stores.Config" + c.String() }

// LogValue implements slog.LogValuer without the secrets.
func (c Config) LogValue() slog.Value {
	type plain Config
	return slog.AnyValue(plain(c.redacted()))
}

func (c ServerConfig) redacted() ServerConfig {
	c.Auth, c.SentinelAuth = mask(c.Auth), mask(c.SentinelAuth)
	c.Addrs = append([]string(nil), c.Addrs...)
	return c
}

// String implements fmt.Stringer without the passwords.
func (c ServerConfig) String() string {
	type plain ServerConfig
	return fmt.Sprintf("%+v", plain(c.redacted()))
}

// GoString implements fmt.GoStringer (%#v) without the passwords.
func (c ServerConfig) GoString() string { return "stores.ServerConfig" + c.String() }

// LogValue implements slog.LogValuer without the passwords.
func (c ServerConfig) LogValue() slog.Value {
	type plain ServerConfig
	return slog.AnyValue(plain(c.redacted()))
}

func (c ClusterConfig) redacted() ClusterConfig {
	c.Secret = mask(c.Secret)
	if c.Secrets != nil {
		masked := make([]string, len(c.Secrets))
		for i, s := range c.Secrets {
			masked[i] = mask(s)
		}
		c.Secrets = masked
	}
	c.Join = append([]string(nil), c.Join...)
	return c
}

// String implements fmt.Stringer without the secret.
func (c ClusterConfig) String() string {
	type plain ClusterConfig
	return fmt.Sprintf("%+v", plain(c.redacted()))
}

// GoString implements fmt.GoStringer (%#v) without the secret.
func (c ClusterConfig) GoString() string { return "stores.ClusterConfig" + c.String() }

// LogValue implements slog.LogValuer without the secret.
func (c ClusterConfig) LogValue() slog.Value {
	type plain ClusterConfig
	return slog.AnyValue(plain(c.redacted()))
}
