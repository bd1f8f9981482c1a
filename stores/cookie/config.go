package cookie

import (
	"errors"
	"fmt"
	"time"

	"github.com/sessionmesh/sessionmesh/session"
	"github.com/sessionmesh/sessionmesh/stores/internal/aead"
)

// Config configures a Store. The zero value of every field but Keys means
// its default. The Store copies the Config (and the secrets): changing it
// after New has no effect.
type Config struct {
	// Keys seal and open the cookies: the first one seals, every one opens
	// (rotation, see the package doc). Required; key IDs must be distinct.
	Keys []Key

	// CookieName is the name of the session cookie, bound into every
	// cookie's associated data; it must be the Manager's CookieName.
	// Default "sid".
	CookieName string

	// Now is the clock that expiry decisions use. Default time.Now; tests
	// inject their own.
	Now func() time.Time
}

// DefaultConfig returns a Config with every default filled in and keys set.
func DefaultConfig(keys ...Key) Config {
	c := Config{Keys: keys}
	c.setDefaults()
	return c
}

func (c *Config) setDefaults() {
	if c.CookieName == "" {
		c.CookieName = "sid"
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// Validate reports every field of c that is out of range, each error
// naming the field and what is allowed, joined (errors.Join); each wraps
// session.ErrInvalidConfig, and a bad key's also ErrInvalidKey.
func (c *Config) Validate() error {
	var errs []error
	if len(c.Keys) == 0 {
		errs = append(errs, invalid("Keys", "is empty; want at least one key (the first seals, all open)"))
	}
	for _, err := range aead.Check(c.Keys, "cookie") {
		errs = append(errs, fmt.Errorf("cookie: %w: %w", session.ErrInvalidConfig, err))
	}
	if c.CookieName != "" && !session.ValidCookieName(c.CookieName) {
		errs = append(errs, invalid("CookieName", fmt.Sprintf("%q is not an HTTP token of at most 64 characters", c.CookieName)))
	}
	return errors.Join(errs...)
}

func invalid(field, rule string) error {
	return fmt.Errorf("cookie: %w: %s %s", session.ErrInvalidConfig, field, rule)
}
