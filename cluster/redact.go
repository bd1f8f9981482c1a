package cluster

import (
	"fmt"
	"log/slog"
)

// redacted returns a copy of c whose Secret and Secrets say only whether
// they are set (and how many secrets the list holds).
func (c Config) redacted() Config {
	if len(c.Secret) > 0 {
		c.Secret = []byte(secretMark)
	}
	if c.Secrets != nil {
		masked := make([][]byte, len(c.Secrets))
		for i := range masked {
			masked[i] = []byte(secretMark)
		}
		c.Secrets = masked
	}
	c.Join = append([]string(nil), c.Join...)
	return c
}

// secretMark is what a printed config shows for a secret.
const secretMark = "<secret>"

// String implements fmt.Stringer without the secrets: a config that is
// printed or logged never shows them.
func (c Config) String() string {
	type plain Config // without the methods: no recursion
	return fmt.Sprintf("%+v", plain(c.redacted()))
}

// GoString implements fmt.GoStringer (%#v) without the secrets.
func (c Config) GoString() string { return "cluster.Config" + c.String() }

// LogValue implements slog.LogValuer without the secrets.
func (c Config) LogValue() slog.Value { return slog.StringValue(c.String()) }
