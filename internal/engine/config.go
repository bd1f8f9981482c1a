package engine

import (
	"errors"
	"fmt"
	"time"

	"github.com/sessionmesh/sessionmesh/session"
)

// Config configures a Map. The zero value of every field means its
// default; DefaultConfig spells them out. The Map copies the Config:
// changing it after New has no effect. (stores/memory.Config documents
// the same fields for users.)
type Config struct {
	// Shards is the number of independently locked parts of the map, a power
	// of two. More shards mean less waiting between requests of different
	// sessions, at a few bytes each. Default 64.
	Shards int

	// MaxSessions bounds the number of sessions held. A write beyond it
	// evicts expired sessions and sessions never used again after the
	// request that created them, the earliest deadline first, among small
	// samples; a new session that finds only sessions in use is refused
	// with session.ErrFull (see the package doc). Default 0: no bound on
	// the count (MaxBytes still bounds them).
	MaxSessions int

	// MaxBytes bounds the memory held, counted as the slot each session
	// takes (its encoded bytes, its ID's 32 bytes and its deadline,
	// rounded up to a size class) plus a fixed per-session overhead for
	// the index: 220 MB for a million typical sessions. A write beyond it
	// evicts like MaxSessions. Pages are at most about an eighth emptier
	// than that (see the package doc). It must be at least MaxSessionBytes. Default 0:
	// DefaultMaxBytes, so a flood of new sessions cannot take the process
	// down; negative: unbounded.
	MaxBytes int64

	// MaxSessionBytes is the largest encoded session accepted; a larger one
	// fails with an error wrapping session.ErrTooLarge and changes nothing.
	// Default 1 MiB.
	MaxSessionBytes int

	// SweepInterval is how often the background sweeper removes expired
	// sessions that no request has looked up. Shorter frees memory sooner at
	// the cost of walking every shard more often. Default 1 minute.
	SweepInterval time.Duration

	// Now is the clock that expiry decisions use. Default time.Now; tests
	// inject their own.
	Now func() time.Time
}

// Defaults of the Config fields.
const (
	DefaultShards          = 64
	DefaultMaxBytes        = 256 << 20 // about a million sessions of 200 bytes; a 512 MiB container survives it
	DefaultMaxSessionBytes = 1 << 20
	DefaultSweepInterval   = time.Minute
)

// DefaultConfig returns a Config with every default filled in.
func DefaultConfig() Config {
	c := Config{}
	c.setDefaults()
	return c
}

func (c *Config) setDefaults() {
	if c.Shards == 0 {
		c.Shards = DefaultShards
	}
	if c.MaxSessionBytes == 0 {
		c.MaxSessionBytes = DefaultMaxSessionBytes
	}
	switch {
	case c.MaxBytes == 0:
		c.MaxBytes = DefaultMaxBytes
	case c.MaxBytes < 0:
		c.MaxBytes = 0 // overLimit: 0 is no bound
	}
	if c.SweepInterval == 0 {
		c.SweepInterval = DefaultSweepInterval
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// Validate reports every field of c that is out of range, each error
// naming the field and what is allowed, joined (errors.Join); each wraps
// session.ErrInvalidConfig. Zero values are allowed: they mean defaults.
func (c *Config) Validate() error {
	sessionBytes := c.MaxSessionBytes
	if sessionBytes <= 0 {
		sessionBytes = DefaultMaxSessionBytes
	}
	var errs []error
	check := func(bad bool, field string, got any, want string) {
		if bad {
			errs = append(errs, invalid(field, got, want))
		}
	}
	check(c.Shards < 0 || c.Shards&(c.Shards-1) != 0, "Shards", c.Shards, "a power of two, or 0 for the default 64")
	check(c.MaxSessions < 0, "MaxSessions", c.MaxSessions, "positive, or 0 for no bound on the count")
	check(c.MaxBytes > 0 && c.MaxBytes < int64(sessionBytes), "MaxBytes", c.MaxBytes,
		fmt.Sprintf("at least MaxSessionBytes (%d), 0 for the default 256 MiB, or negative for no bound", sessionBytes))
	check(c.MaxSessionBytes < 0, "MaxSessionBytes", c.MaxSessionBytes, "positive, or 0 for the default 1 MiB")
	check(c.SweepInterval < 0, "SweepInterval", c.SweepInterval, "positive, or 0 for the default 1 minute")
	return errors.Join(errs...)
}

func invalid(field string, got any, want string) error {
	return fmt.Errorf("%w: %s is %v; want %s", session.ErrInvalidConfig, field, got, want)
}
