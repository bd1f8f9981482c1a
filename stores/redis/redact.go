package redis

import (
	"fmt"
	"log/slog"
)

// redacted returns a copy of c whose passwords say only whether they are
// set.
func (c Config) redacted() Config {
	for _, p := range []*string{&c.Password, &c.SentinelPassword} {
		if *p != "" {
			*p = "<secret>"
		}
	}
	c.Addrs = append([]string(nil), c.Addrs...)
	return c
}

// String implements fmt.Stringer without the passwords: a config that is
// printed or logged never shows them.
func (c Config) String() string {
	type plain Config // without the methods: no recursion
	return fmt.Sprintf("%+v", plain(c.redacted()))
}

// GoString implements fmt.GoStringer (%#v) without the passwords.
func (c Config) GoString() string { return "redis.Config" + c.String() }

// LogValue implements slog.LogValuer without the passwords.
func (c Config) LogValue() slog.Value { return slog.StringValue(c.String()) }
