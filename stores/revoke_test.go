package stores_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/sessionmesh/sessionmesh/httpmw"
	"github.com/sessionmesh/sessionmesh/internal/servertest"
	"github.com/sessionmesh/sessionmesh/session"
	"github.com/sessionmesh/sessionmesh/stores"
)

// app is a site configured from YAML as the demo is: POST /login logs in
// the user named by ?user=, POST /logout destroys the session, GET /
// answers who the session belongs to ("anonymous" for nobody).
type app struct {
	m *session.Manager
	h http.Handler
}

func newApp(t *testing.T, yaml string) *app {
	t.Helper()
	cfg := loadString(t, "sessions.yaml", yaml)
	cfg.Logger = slog.New(slog.DiscardHandler) // the 503s are asserted
	st, err := stores.Open(cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { stores.Close(st) })
	rv, err := stores.OpenRevoker(cfg, st)
	if err != nil {
		t.Fatalf("OpenRevoker: %v", err)
	}
	t.Cleanup(func() { stores.CloseRevoker(rv) })
	sc := cfg.Session(st)
	sc.Revoker = rv
	m, err := session.NewManager(sc)
	if err != nil {
		t.Fatalf("NewManager: %v", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		s := session.FromContext(r.Context())
		user := r.URL.Query().Get("user")
		if err := errors.Join(s.Renew(), s.SetPrincipal(user), s.Set("user", user)); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
	})
	mux.HandleFunc("POST /logout", func(w http.ResponseWriter, r *http.Request) {
		if err := session.FromContext(r.Context()).Destroy(); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
	})
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		p, err := session.FromContext(r.Context()).Principal()
		if err != nil {
			return // the middleware answers 503
		}
		if p == "" {
			p = "anonymous"
		}
		fmt.Fprint(w, p)
	})
	return &app{m: m, h: httpmw.New(m)(mux)}
}

// cookieSite is the YAML of the cookie store with a Revoker in the Redis
// on port, the revoke block's other fields given in revoke ("" or ",
// onDestroy: true").
func cookieSite(port int, revoke string) string {
	return fmt.Sprintf(`
sessions:
  store: cookie
  keys: [%q]
  server: { host: 127.0.0.1, port: %d, opts: { timeout: 1s } }
  revoke: { store: redis%s }
`, testKey("k1", 32), port, revoke)
}

// do sends a request with the Cookie header cookie ("" for none) and
// returns the status, the body and the Set-Cookie header.
func (a *app) do(method, path, cookie string) (int, string, string) {
	r := httptest.NewRequest(method, path, nil)
	if cookie != "" {
		r.Header.Set("Cookie", cookie)
	}
	w := httptest.NewRecorder()
	a.h.ServeHTTP(w, r)
	return w.Code, strings.TrimSpace(w.Body.String()), w.Header().Get("Set-Cookie")
}

// login logs user in and returns the Cookie header the browser sends next.
func (a *app) login(t *testing.T, user string) string {
	t.Helper()
	code, body, set := a.do("POST", "/login?user="+user, "")
	c, err := http.ParseSetCookie(set)
	if code != http.StatusOK || err != nil {
		t.Fatalf("login: %d %s, Set-Cookie %q", code, body, set)
	}
	return c.Name + "=" + c.Value
}

// whoami asks GET / with cookie and checks that an answer of anonymous
// to a client that sent a cookie expires it, as for an ended session.
func (a *app) whoami(t *testing.T, cookie string) string {
	t.Helper()
	code, body, set := a.do("GET", "/", cookie)
	if code != http.StatusOK {
		t.Fatalf("GET / = %d %s", code, body)
	}
	if body == "anonymous" && cookie != "" && !strings.Contains(set, "Max-Age=0") {
		t.Fatalf("an ended session: Set-Cookie %q; want the stale cookie expired", set)
	}
	return body
}

// TestASVS_V3_3_3_RevokeEndsCopiedCookies: the cookie store with a Revoker in Redis,
// configured in YAML. A copy of alice's cookie (the same Cookie header
// from a second client) opens her session; after RevokePrincipal neither
// the original nor the copy does, while bob's session goes on.
func TestASVS_V3_3_3_RevokeEndsCopiedCookies(t *testing.T) {
	srv := servertest.Redis(t)
	a := newApp(t, cookieSite(srv.Port(), ""))
	alice, bob := a.login(t, "alice"), a.login(t, "bob")
	original, copied := alice, alice
	if a.whoami(t, original) != "alice" || a.whoami(t, copied) != "alice" {
		t.Fatal("alice's cookie or its copy does not open her session before the revoke")
	}
	if err := a.m.RevokePrincipal(context.Background(), "alice"); err != nil {
		t.Fatal(err)
	}
	for name, cookie := range map[string]string{"original": original, "copy": copied} {
		if got := a.whoami(t, cookie); got != "anonymous" {
			t.Errorf("the %s of alice's cookie after RevokePrincipal: %s; want a fresh anonymous session", name, got)
		}
	}
	if got := a.whoami(t, bob); got != "bob" {
		t.Errorf("bob's session after alice's revoke: %s", got)
	}
}

// TestASVS_V3_3_1_CookieStoreLogoutSticksWithOnDestroy: with the cookie store, logging out
// (Destroy) leaves a copy of the cookie working unless revoke.onDestroy is
// set; with it, the copy ends with the logout.
func TestASVS_V3_3_1_CookieStoreLogoutSticksWithOnDestroy(t *testing.T) {
	srv := servertest.Redis(t)
	for _, onDestroy := range []bool{false, true} {
		a := newApp(t, cookieSite(srv.Port(), fmt.Sprintf(", onDestroy: %t", onDestroy)))
		cookie := a.login(t, "alice")
		if code, _, set := a.do("POST", "/logout", cookie); code != http.StatusOK || !strings.Contains(set, "Max-Age=0") {
			t.Fatalf("logout: %d, Set-Cookie %q", code, set)
		}
		if got, want := a.whoami(t, cookie), map[bool]string{false: "alice", true: "anonymous"}[onDestroy]; got != want {
			t.Errorf("onDestroy %t: a copy of the cookie after logout opens as %s; want %s", onDestroy, got, want)
		}
	}
}

// TestRevokeMemcache: the same with sessions in a real memcached and the
// generations in the worker (revoke.store memory).
func TestRevokeMemcache(t *testing.T) {
	srv := servertest.Memcached(t)
	a := newApp(t, fmt.Sprintf(`
sessions:
  store: memcache
  servers: [%q]
  revoke: { store: memory }
`, srv.Addr()))
	laptop, phone, bob := a.login(t, "alice"), a.login(t, "alice"), a.login(t, "bob")
	if a.whoami(t, laptop) != "alice" || a.whoami(t, phone) != "alice" {
		t.Fatal("alice's sessions do not open before the revoke")
	}
	if err := a.m.RevokePrincipal(context.Background(), "alice"); err != nil {
		t.Fatal(err)
	}
	if a.whoami(t, laptop) != "anonymous" || a.whoami(t, phone) != "anonymous" {
		t.Fatal("a session of alice survived RevokePrincipal")
	}
	if got := a.whoami(t, bob); got != "bob" {
		t.Errorf("bob's session after alice's revoke: %s", got)
	}
}

// TestRevokerDownIs503: a Revoker that does not answer fails the requests
// of sessions with a principal (503), never lets them through; anonymous
// sessions, which need no lookup, go on.
func TestRevokerDownIs503(t *testing.T) {
	srv := servertest.Redis(t)
	a := newApp(t, cookieSite(srv.Port(), ""))
	alice := a.login(t, "alice")
	srv.Kill()
	if code, body, _ := a.do("GET", "/", alice); code != http.StatusServiceUnavailable {
		t.Fatalf("GET / as alice with the Revoker's Redis down: %d %s; want 503", code, body)
	}
	if got := a.whoami(t, ""); got != "anonymous" {
		t.Fatalf("GET / without a session: %s", got)
	}
}

func TestRevokeConfigValidation(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(*stores.Config)
		want   string
	}{
		{"unknown store", func(c *stores.Config) { c.Revoke.Store = "etcd" }, "sessions.revoke.store"},
		{"memory with a cluster", func(c *stores.Config) {
			c.Revoke.Store, c.Cluster = "memory", &stores.ClusterConfig{Insecure: true, Bind: "127.0.0.1:7946"}
		}, "sessions.revoke.store is memory"},
		{"cache without a store", func(c *stores.Config) { c.Revoke.Cache = stores.Duration(1e9) }, "sessions.revoke.cache"},
		{"onDestroy without a store", func(c *stores.Config) { c.Revoke.OnDestroy = true }, "sessions.revoke.onDestroy"},
		{"redis with a bad server", func(c *stores.Config) { c.Revoke.Store, c.Server.Addrs = "redis", []string{"nowhere"} }, "sessions.server.addrs"},
	} {
		c := stores.DefaultConfig()
		tc.change(&c)
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Validate = %v; want an error naming %s", tc.name, err, tc.want)
		}
	}
}

func TestOpenRevokerNone(t *testing.T) {
	rv, err := stores.OpenRevoker(stores.DefaultConfig(), nil)
	if rv != nil || err != nil {
		t.Fatalf("OpenRevoker without revoke.store = %v, %v; want nil, nil", rv, err)
	}
	if err := stores.CloseRevoker(rv); err != nil {
		t.Fatalf("CloseRevoker(nil) = %v", err)
	}
}
