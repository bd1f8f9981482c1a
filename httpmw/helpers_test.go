package httpmw_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"go.uber.org/goleak"

	"github.com/sessionmesh/sessionmesh/httpmw"
	"github.com/sessionmesh/sessionmesh/internal/testutil"
	"github.com/sessionmesh/sessionmesh/session"
	"github.com/sessionmesh/sessionmesh/stores/memory"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// errDown is what the spy store returns while it is "down".
var errDown = errors.New("store down (injected)")

// spyStore wraps a real store to count its calls and inject failures: the
// only fake in these tests, for what a real store cannot do on demand.
type spyStore struct {
	session.Store
	loads, saves, deletes atomic.Int64
	down                  atomic.Bool
}

func (s *spyStore) Load(ctx context.Context, token string) (session.Record, bool, error) {
	s.loads.Add(1)
	if s.down.Load() {
		return session.Record{}, false, errDown
	}
	return s.Store.Load(ctx, token)
}

func (s *spyStore) Save(ctx context.Context, token string, p session.Patch) (string, error) {
	s.saves.Add(1)
	if s.down.Load() {
		return "", errDown
	}
	return s.Store.Save(ctx, token, p)
}

func (s *spyStore) Delete(ctx context.Context, token string) error {
	s.deletes.Add(1)
	if s.down.Load() {
		return errDown
	}
	return s.Store.Delete(ctx, token)
}

// fixture is a real http server running h behind the middleware, over a
// real store wrapped in a spy.
type fixture struct {
	store session.Store // the real store, unwrapped
	spy   *spyStore
	m     *session.Manager
	logs  *testutil.Buffer // log output of the handlers' goroutines
	srv   *httptest.Server
}

func newFixture(t *testing.T, h http.HandlerFunc, opts ...httpmw.Option) *fixture {
	t.Helper()
	f := &fixture{store: newStore(t), logs: &testutil.Buffer{}}
	f.spy = &spyStore{Store: f.store}
	cfg := session.DefaultConfig(f.spy)
	cfg.Logger = slog.New(slog.NewTextHandler(f.logs, nil))
	m, err := session.NewManager(cfg)
	if err != nil {
		t.Fatal(err)
	}
	f.m = m
	f.srv = httptest.NewServer(outer(httpmw.New(m, opts...)(h)))
	t.Cleanup(f.srv.Close)
	return f
}

// outer sets a header before the middleware runs, like a request-ID or
// served-by middleware would.
func outer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Outer", "kept")
		next.ServeHTTP(w, r)
	})
}

// client returns a client with its own cookie jar: one browser.
func (f *fixture) client(t *testing.T) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	c := *f.srv.Client()
	c.Jar = jar
	return &c
}

// get sends GET path with client c and returns the response, body read.
func get(t *testing.T, c *http.Client, url string) (*http.Response, string) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	var body bytes.Buffer
	if _, err := body.ReadFrom(resp.Body); err != nil {
		t.Fatalf("GET %s: read body: %v", url, err)
	}
	return resp, body.String()
}

// sessionCookie returns the session cookie the response set, or nil.
func sessionCookie(resp *http.Response) *http.Cookie {
	for _, c := range resp.Cookies() {
		if c.Name == "sid" {
			return c
		}
	}
	return nil
}

// load reads token's record straight from the store.
func load(t *testing.T, st session.Store, token string) (session.Record, bool) {
	t.Helper()
	rec, found, err := st.Load(context.Background(), token)
	if err != nil {
		t.Fatalf("store.Load: %v", err)
	}
	return rec, found
}

// newStore returns a real memory store, closed when the test ends.
func newStore(t testing.TB) session.Store {
	t.Helper()
	st, err := memory.New(memory.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}
