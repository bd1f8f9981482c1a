package redis

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/sessionmesh/sessionmesh/session"
	"github.com/sessionmesh/sessionmesh/stores/internal/aead"
)

// Key is one sealing key (Config.Keys), the cookie store's key type:
// cookie.ParseKey parses one from "ID:BASE64".
type Key = aead.Key

// Config configures a Store. Start from DefaultConfig; the zero value of a
// field means its default. New copies the Config: changing it afterwards has
// no effect.
type Config struct {
	// Addrs are the servers: one "host:port" for a single server, the seed
	// nodes of a Redis Cluster, or the sentinels when MasterName is set.
	// Default ["127.0.0.1:6379"], or ["127.0.0.1:26379"] with MasterName.
	Addrs []string

	// MasterName, when set, makes Addrs the addresses of Redis Sentinels that
	// are asked for the current master of this name. Default "": no Sentinel.
	MasterName string

	// Cluster treats Addrs as Redis Cluster seed nodes even when there is only
	// one. More than one address without MasterName always means a cluster.
	// Default false.
	Cluster bool

	// Username and Password authenticate to Redis: Password alone for
	// requirepass, both for an ACL user. Default "": no AUTH.
	Username string
	Password string

	// SentinelPassword authenticates to the sentinels themselves (not to the
	// master). Default "": sentinels without requirepass.
	SentinelPassword string

	// DB is the database to SELECT on a single server or a Sentinel master;
	// Redis Cluster has only database 0. Default 0.
	DB int

	// TLS, when non-nil, connects with TLS using this configuration.
	// Default nil: plain TCP.
	TLS *tls.Config

	// Prefix is put before each session ID to form its key (Geddy's "ns").
	// Default "sess:".
	Prefix string

	// DialTimeout bounds connecting to a server, and the ping New makes.
	// Default 2s.
	DialTimeout time.Duration

	// Timeout bounds each socket read and write. A call's context deadline,
	// when sooner, wins. A stalled server costs a caller at most this long
	// (times Retries+1). Default 1s.
	Timeout time.Duration

	// PoolSize is the number of connections kept per server. More allows more
	// concurrent calls without waiting for a free connection. Default
	// 10 per GOMAXPROCS (go-redis's default).
	PoolSize int

	// Retries is how many times a command that failed on a broken connection
	// or a timeout is sent again. Default 0: a save is not idempotent (a
	// renew that succeeded but whose answer was lost would fail on retry
	// with ErrNotFound and log the user out), and go-redis already discards
	// dead pooled connections before use, so a server that came back is
	// reached without retries.
	Retries int

	// MaxSessionBytes is the largest session accepted, counted as the total
	// length of its keys and encoded values. A bigger session fails with
	// session.ErrTooLarge and leaves the stored one unchanged. Default 1 MiB.
	MaxSessionBytes int

	// Keys, when set, seal every session value at rest with AES-256-GCM
	// (see the package doc, "Sealing at rest"): the first key seals, every
	// key opens, so keys rotate as the cookie store's do. Key IDs must be
	// distinct. Sealing adds 30 bytes plus the key ID's length to every
	// value, which MaxSessionBytes counts. Default none: values are stored
	// in the clear.
	Keys []Key

	// Logger receives what go-redis logs on its own: a dial that failed in
	// the connection pool, a Sentinel failover, a Redis Cluster reload. Its
	// logger is one per process: see the package doc for which Store's
	// Logger gets the lines when several are open. Default slog.Default().
	Logger *slog.Logger

	// Now is the clock that decides on Load whether a session has expired.
	// The server drops expired keys by itself too, using the TTL each save
	// sets. Default time.Now.
	Now func() time.Time
}

// maxPrefixLen keeps keys short: Redis allows long keys, but every byte of
// the prefix is repeated in every session's key.
const maxPrefixLen = 128

// DefaultConfig returns a Config with every default filled in.
func DefaultConfig() Config {
	var c Config
	c.setDefaults()
	return c
}

func (c *Config) setDefaults() {
	switch {
	case len(c.Addrs) > 0:
	case c.MasterName != "":
		c.Addrs = []string{"127.0.0.1:26379"}
	default:
		c.Addrs = []string{"127.0.0.1:6379"}
	}
	if c.Prefix == "" {
		c.Prefix = "sess:"
	}
	if c.DialTimeout == 0 {
		c.DialTimeout = 2 * time.Second
	}
	if c.Timeout == 0 {
		c.Timeout = time.Second
	}
	if c.MaxSessionBytes == 0 {
		c.MaxSessionBytes = 1 << 20
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

// Validate reports every field of c that is out of range, each error
// naming the field and what is allowed, joined (errors.Join); each wraps
// session.ErrInvalidConfig. Zero values are allowed: they mean defaults.
func (c *Config) Validate() error {
	var errs []error
	check := func(bad bool, field, rule string) {
		if bad {
			errs = append(errs, invalid(field, rule))
		}
	}
	check(!validAddrs(c.Addrs), "Addrs", "must hold non-empty host:port addresses")
	check(c.MasterName != "" && c.Cluster, "Cluster", "cannot be combined with a Sentinel master (MasterName)")
	check(c.DB < 0 || c.DB > 0 && c.isCluster(), "DB", "must be 0 or more, and 0 with Redis Cluster")
	check(len(c.Prefix) > maxPrefixLen, "Prefix", fmt.Sprintf("must be at most %d bytes", maxPrefixLen))
	check(c.DialTimeout < 0, "DialTimeout", "must be positive, or 0 for the default of 2s")
	check(c.Timeout < 0, "Timeout", "must be positive, or 0 for the default of 1s")
	check(c.PoolSize < 0, "PoolSize", "must be 0 or more")
	check(c.Retries < 0, "Retries", "must be 0 or more")
	check(c.MaxSessionBytes < 0, "MaxSessionBytes", "must be positive, or 0 for the default of 1 MiB")
	for _, err := range aead.Check(c.Keys, "redis") {
		errs = append(errs, fmt.Errorf("redis: %w: %w", session.ErrInvalidConfig, err))
	}
	return errors.Join(errs...)
}

func invalid(field, rule string) error {
	return &FieldError{Field: field, Rule: rule}
}

// FieldError is one field of a Config out of range, as Validate reports
// it (joined with the others): Field is the Go field's name, Rule what is
// allowed. It wraps session.ErrInvalidConfig. stores names the field by
// its YAML key instead.
type FieldError struct {
	Field, Rule string
}

func (e *FieldError) Error() string {
	return fmt.Sprintf("redis: %v: %s %s", session.ErrInvalidConfig, e.Field, e.Rule)
}

func (e *FieldError) Unwrap() error { return session.ErrInvalidConfig }

func validAddrs(addrs []string) bool {
	for _, a := range addrs {
		if i := strings.LastIndexByte(a, ':'); i <= 0 || i == len(a)-1 {
			return false
		}
	}
	return true
}

// isCluster reports whether c describes a Redis Cluster.
func (c *Config) isCluster() bool {
	return c.MasterName == "" && (c.Cluster || len(c.Addrs) > 1)
}

// options maps c, with defaults filled in, to go-redis options.
func (c *Config) options() *goredis.UniversalOptions {
	retries := c.Retries
	if retries == 0 {
		retries = -1 // go-redis reads 0 as its default of 3
	}
	return &goredis.UniversalOptions{
		Addrs:                 c.Addrs,
		MasterName:            c.MasterName,
		IsClusterMode:         c.isCluster(),
		Username:              c.Username,
		Password:              c.Password,
		SentinelPassword:      c.SentinelPassword,
		DB:                    c.DB,
		TLSConfig:             c.TLS,
		DialTimeout:           c.DialTimeout,
		DialerRetries:         1, // a server that refuses is down: answer now, not after five dials
		ReadTimeout:           c.Timeout,
		WriteTimeout:          c.Timeout,
		PoolTimeout:           c.Timeout + c.DialTimeout,
		ContextTimeoutEnabled: true,
		PoolSize:              c.PoolSize,
		MaxRetries:            retries,
		DisableIdentity:       true, // CLIENT SETINFO is one more round trip per connection, and older servers reject it
	}
}
