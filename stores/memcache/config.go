package memcache

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

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
	// Servers are the memcached servers, "host:port" or the path of a Unix
	// socket (Geddy's "servers"), each named once. Sessions are spread over
	// them by consistent hashing of the names as written here (see the
	// package doc, "Several servers"): adding or removing one of N moves
	// about 1/N of the sessions. A session lives on one server only, so
	// losing a server loses its sessions. Names are resolved once, in New:
	// a server that moves to another address needs a restart. Default
	// ["127.0.0.1:11211"].
	Servers []string

	// Prefix is put before each session ID to form its key. It must be
	// printable ASCII without spaces. Default "sess:".
	Prefix string

	// Timeout bounds connecting and each socket read and write. A call's
	// context, when it ends sooner, wins. Default 1s.
	Timeout time.Duration

	// MaxIdleConns is the number of idle connections kept per server. Set
	// it above the expected number of concurrent requests: a call that finds
	// none idle dials a new one. Default 32.
	MaxIdleConns int

	// CASRetries is how many times a save re-reads and retries when another
	// request changed the session between its read and its write; after
	// that the save fails with ErrConflict. Retries wait a short random
	// backoff. Default 10.
	CASRetries int

	// MaxSessionBytes is the largest session accepted, counted as the length
	// of its encoded record (keys, values and about 50 bytes of metadata). A
	// bigger session fails with session.ErrTooLarge and leaves the stored
	// one unchanged. memcached's own item limit (-I, default 1 MiB including
	// the key) is reported the same way. Default 1 MiB.
	MaxSessionBytes int

	// Keys, when set, seal every stored record with AES-256-GCM (see the
	// package doc, "Sealing at rest"): the first key seals, every key opens,
	// so keys rotate as the cookie store's do. Key IDs must be distinct.
	// Sealing adds 30 bytes plus the key ID's length to every record, which
	// MaxSessionBytes counts. Default none: records are stored in the clear.
	Keys []Key

	// Now is the clock that decides whether a session has expired. memcached
	// drops expired items by itself too, using the expiration each write
	// sets. Default time.Now.
	Now func() time.Time
}

// DefaultConfig returns a Config with every default filled in.
func DefaultConfig() Config {
	var c Config
	c.setDefaults()
	return c
}

func (c *Config) setDefaults() {
	if len(c.Servers) == 0 {
		c.Servers = []string{"127.0.0.1:11211"}
	}
	if c.Prefix == "" {
		c.Prefix = "sess:"
	}
	if c.Timeout == 0 {
		c.Timeout = time.Second
	}
	if c.MaxIdleConns == 0 {
		c.MaxIdleConns = 32
	}
	if c.CASRetries == 0 {
		c.CASRetries = 10
	}
	if c.MaxSessionBytes == 0 {
		c.MaxSessionBytes = 1 << 20
	}
	if c.Now == nil {
		c.Now = time.Now
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
	check(!validServers(c.Servers), "Servers", "must hold host:port addresses or absolute Unix socket paths")
	check(len(slices.Compact(slices.Sorted(slices.Values(c.Servers)))) != len(c.Servers), "Servers",
		"must name each server once (a server listed twice has no more weight on the ring)")
	check(c.Prefix != "" && !validKey(c.Prefix+strings.Repeat("A", session.IDLen)), "Prefix",
		fmt.Sprintf("must be printable ASCII without spaces, at most %d bytes", maxKeyLen-session.IDLen))
	check(c.Timeout < 0, "Timeout", "must be positive, or 0 for the default of 1s")
	check(c.MaxIdleConns < 0, "MaxIdleConns", "must be positive, or 0 for the default of 32")
	check(c.CASRetries < 0, "CASRetries", "must be positive, or 0 for the default of 10")
	check(c.MaxSessionBytes < 0, "MaxSessionBytes", "must be positive, or 0 for the default of 1 MiB")
	for _, err := range aead.Check(c.Keys, "memcache") {
		errs = append(errs, fmt.Errorf("memcache: %w: %w", session.ErrInvalidConfig, err))
	}
	return errors.Join(errs...)
}

func invalid(field, rule string) error {
	return fmt.Errorf("memcache: %w: %s %s", session.ErrInvalidConfig, field, rule)
}

func validServers(servers []string) bool {
	for _, s := range servers {
		if strings.HasPrefix(s, "/") {
			continue
		}
		if i := strings.LastIndexByte(s, ':'); i <= 0 || i == len(s)-1 {
			return false
		}
	}
	return true
}

// maxKeyLen is memcached's limit on key length.
const maxKeyLen = 250

// validKey reports whether k is a key memcached's text protocol accepts as
// one key: at most 250 bytes of printable ASCII, no spaces or control
// characters (which would split or end the command line).
func validKey(k string) bool {
	if k == "" || len(k) > maxKeyLen {
		return false
	}
	for i := 0; i < len(k); i++ {
		if k[i] <= ' ' || k[i] >= 0x7f {
			return false
		}
	}
	return true
}
