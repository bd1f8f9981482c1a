package redis

import (
	"log/slog"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	// go-redis logs every sentinel lookup and refused dial, through the
	// Store's Logger (slog.Default unless a test sets one); the tests
	// assert on the errors the store returns instead.
	slog.SetDefault(slog.New(slog.DiscardHandler))
	goleak.VerifyTestMain(m)
}

// open starts a Store on cfg and closes it when the test ends. Unless the
// test sets them, timeouts are generous: the machine running the tests may
// be loaded, and only the fault tests measure timeouts.
func open(t *testing.T, cfg Config) *Store {
	t.Helper()
	if cfg.Timeout == 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.DialTimeout == 0 {
		cfg.DialTimeout = 10 * time.Second
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatalf("New(%v): %v", cfg.Addrs, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// rawClient is a plain go-redis client on addr, for looking at what the store
// wrote the way another program would.
func rawClient(t *testing.T, addr string) *goredis.Client {
	t.Helper()
	c := goredis.NewClient(&goredis.Options{Addr: addr, DisableIdentity: true})
	t.Cleanup(func() { c.Close() })
	return c
}
