package memcache

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/sessionmesh/sessionmesh/httpmw"
	"github.com/sessionmesh/sessionmesh/session"
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

// counterSite serves the demo's counter behind the middleware (every request
// adds one to the session's counter and prints it) and returns a function
// that requests it as one browser would, with the status and body.
func counterSite(t *testing.T, st session.Store) func() (int, string) {
	t.Helper()
	cfg := session.DefaultConfig(st)
	cfg.Logger = slog.New(slog.DiscardHandler)
	m, err := session.NewManager(cfg)
	if err != nil {
		t.Fatal(err)
	}
	h := httpmw.New(m)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := session.FromContext(r.Context())
		n, _ := session.Get[int](s, "n")
		if err := s.Set("n", n+1); err != nil {
			return // the middleware answers with the store's error
		}
		fmt.Fprint(w, n+1)
	}))
	ts := httptest.NewServer(h)
	t.Cleanup(ts.Close)
	c := ts.Client()
	c.Jar, _ = cookiejar.New(nil)
	c.Timeout = 10 * time.Second
	return func() (int, string) {
		t.Helper()
		resp, err := c.Get(ts.URL)
		if err != nil {
			t.Fatalf("GET: %v", err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, strings.TrimSpace(string(body))
	}
}
