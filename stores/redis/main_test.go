package redis

import (
	"context"
	"log/slog"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"go.uber.org/goleak"

	"github.com/sessionmesh/sessionmesh/session"
)

func TestMain(m *testing.M) {
	// go-redis logs every sentinel lookup and refused dial to stderr; the
	// tests assert on the errors the store returns instead.
	goredis.SetLogger(quietLogger{})
	goleak.VerifyTestMain(m)
}

type quietLogger struct{}

func (quietLogger) Printf(context.Context, string, ...any) {}

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

// patchAt builds a patch at now with a 30-minute idle timeout that sets the
// given key/value pairs (values are taken as encoded JSON).
func patchAt(now time.Time, kv ...string) session.Patch {
	p := session.Patch{Now: now, Idle: 30 * time.Minute}
	if len(kv) > 0 {
		p.Set = make(map[string][]byte)
	}
	for i := 0; i+1 < len(kv); i += 2 {
		p.Set[kv[i]] = []byte(kv[i+1])
	}
	return p
}

// mustCreate saves a new session and returns its ID.
func mustCreate(t *testing.T, s session.Store, p session.Patch) string {
	t.Helper()
	p.NewID = session.NewID()
	tok, err := s.Save(context.Background(), "", p)
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	return tok
}

// mustLoad loads a session that must exist.
func mustLoad(t *testing.T, s session.Store, token string) session.Record {
	t.Helper()
	rec, found, err := s.Load(context.Background(), token)
	if err != nil || !found {
		t.Fatalf("Load: found=%t err=%v; want the session", found, err)
	}
	return rec
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }
