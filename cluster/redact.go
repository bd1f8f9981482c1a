package cluster

import (
	"fmt"
	"log/slog"
)

// redacted returns a copy of c whose Secret says only whether it is set.
func (c Config) redacted() Config {
	if len(c.Secret) > 0 {
		c.Secret = []byte("<secret>")
	}
	c.Join = append([]string(nil), c.Join...)
	return c
}

// String implements fmt.Stringer without the secret: a config that is
// printed or logged never shows it.
func (c Config) String() string {
	type plain Config // without the methods: no recursion
	return fmt.Sprintf("%+v", plain(c.redacted()))
}

// GoString implements fmt.GoStringer (%#v) without the secret.
func (c Config) GoString() string { return "cluster.Config" + c.String() }

// LogValue implements slog.LogValuer without the secret.
func (c Config) LogValue() slog.Value { return slog.StringValue(c.String()) }
