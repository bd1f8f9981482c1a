package memcache

import (
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// open starts a Store on cfg and closes it when the test ends. Unless the
// test sets it, the timeout is generous: the machine running the tests may
// be loaded, and only the fault tests measure timeouts.
func open(t *testing.T, cfg Config) *Store {
	t.Helper()
	if cfg.Timeout == 0 {
		cfg.Timeout = 10 * time.Second
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatalf("New(%v): %v", cfg.Servers, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}
