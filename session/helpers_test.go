package session_test

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/sessionmesh/sessionmesh/internal/testutil"
	"github.com/sessionmesh/sessionmesh/session"
	"github.com/sessionmesh/sessionmesh/stores/memory"
	"github.com/sessionmesh/sessionmesh/stores/storetest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// newClock is the injected time: tests advance it instead of sleeping.
func newClock() *storetest.Clock {
	return storetest.NewClock(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
}

var errDown = errors.New("store down (injected)")

// spy wraps the real memory store to count calls and inject failures.
type spy struct {
	session.Store
	loads, saves, deletes atomic.Int64
	binaryLoads           atomic.Int64 // of loads, those through LoadBinary
	failLoad, failSave    atomic.Bool
}

func (s *spy) Load(ctx context.Context, token string) (session.Record, bool, error) {
	s.loads.Add(1)
	if s.failLoad.Load() {
		return session.Record{}, false, errDown
	}
	return s.Store.Load(ctx, token)
}

// LoadBinary passes the memory store's binary loads through, so that the
// tests read sessions the way the Manager does over the memory store.
// (mapLoads hides it to test the other way.)
func (s *spy) LoadBinary(ctx context.Context, token string) ([]byte, bool, error) {
	s.loads.Add(1)
	s.binaryLoads.Add(1)
	if s.failLoad.Load() {
		return nil, false, errDown
	}
	return s.Store.(session.BinaryLoader).LoadBinary(ctx, token)
}

// mapLoads makes the Manager load records with Load, as over a store that
// keeps no binary form.
func mapLoads(c *session.Config) { c.Store = struct{ session.Store }{c.Store} }

func (s *spy) Save(ctx context.Context, token string, p session.Patch) (string, error) {
	s.saves.Add(1)
	if s.failSave.Load() {
		return "", errDown
	}
	return s.Store.Save(ctx, token, p)
}

func (s *spy) Delete(ctx context.Context, token string) error {
	s.deletes.Add(1)
	return s.Store.Delete(ctx, token)
}

func (s *spy) calls() int64 { return s.loads.Load() + s.saves.Load() + s.deletes.Load() }

// env is a Manager over a real memory store, with an injected clock.
type env struct {
	clock *storetest.Clock
	spy   *spy
	logs  *testutil.Buffer // what the Manager logs
	m     *session.Manager
}

func newEnv(t *testing.T, change ...func(*session.Config)) *env {
	t.Helper()
	e := &env{clock: newClock(), logs: &testutil.Buffer{}}
	mcfg := memory.DefaultConfig()
	mcfg.Now = e.clock.Now
	st, err := memory.New(mcfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	e.spy = &spy{Store: st}
	cfg := session.DefaultConfig(e.spy)
	cfg.Now = e.clock.Now
	cfg.Logger = slog.New(slog.NewTextHandler(e.logs, nil))
	for _, f := range change {
		f(&cfg)
	}
	if e.m, err = session.NewManager(cfg); err != nil {
		t.Fatal(err)
	}
	return e
}

// request runs f as one request of the session named by token and returns
// the commit's outcome: what the middleware does around a handler.
func (e *env) request(t *testing.T, token string, f func(s *session.Session)) session.Outcome {
	t.Helper()
	return e.requestTokens(t, []string{token}, f)
}

// requestTokens is request for a client that presented several tokens
// (cookies of one name), in this order.
func (e *env) requestTokens(t *testing.T, tokens []string, f func(s *session.Session)) session.Outcome {
	t.Helper()
	s := e.m.Start(context.Background(), tokens...)
	f(s)
	o, err := e.m.Commit(s)
	if err != nil {
		t.Fatalf("Commit: %v", err)
	}
	return o
}

// create stores a new session holding key=v and returns its token.
func (e *env) create(t *testing.T, key string, v any) string {
	t.Helper()
	o := e.request(t, "", func(s *session.Session) { must(t, s.Set(key, v)) })
	if o.Action != session.CookieSet || o.Token == "" {
		t.Fatalf("creating a session: outcome %+v, want CookieSet with a token", o)
	}
	return o.Token
}

// get reads key as a T in a request of token.
func get[T any](t *testing.T, e *env, token, key string) T {
	t.Helper()
	var v T
	e.request(t, token, func(s *session.Session) {
		var err error
		v, err = session.Get[T](s, key)
		must(t, err)
	})
	return v
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
