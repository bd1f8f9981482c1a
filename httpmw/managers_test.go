package httpmw_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/sessionmesh/sessionmesh/httpmw"
	"github.com/sessionmesh/sessionmesh/session"
)

func newManager(t *testing.T, cookie string) *session.Manager {
	t.Helper()
	cfg := session.DefaultConfig(newStore(t))
	cfg.CookieName = cookie
	m, err := session.NewManager(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// An admin area's session beside the user's: two Managers, two cookies,
// each handler finds the session of the Manager it asks.
func TestTwoManagersInOneRequest(t *testing.T) {
	user, admin := newManager(t, "sid"), newManager(t, "admin")
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, a := user.FromContext(r.Context()), admin.FromContext(r.Context())
		nu, _ := session.Get[int](u, "n")
		na, _ := session.Get[int](a, "n")
		if err := u.Set("n", nu+1); err != nil {
			t.Error(err)
		}
		if err := a.Set("n", na+10); err != nil {
			t.Error(err)
		}
		fmt.Fprintf(w, "%d %d", nu+1, na+10)
	})
	srv := httptest.NewServer(httpmw.New(user)(httpmw.New(admin)(h)))
	t.Cleanup(srv.Close)
	f := &fixture{srv: srv}
	c := f.client(t)
	get(t, c, srv.URL)
	resp, body := get(t, c, srv.URL)
	if body != "2 20" {
		t.Fatalf("second request = %q; want \"2 20\": each Manager kept its own session", body)
	}
	if len(resp.Header.Values("Vary")) != 1 {
		t.Errorf("Vary = %q; want Cookie once", resp.Header.Values("Vary"))
	}
}

// The same Manager's middleware twice (a route group inside a site that
// has it already): one session, one save, one cookie.
func TestSameManagerTwiceIsOneSession(t *testing.T) {
	m := newManager(t, "sid")
	var inner *session.Session
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		inner = m.FromContext(r.Context())
		n, _ := session.Get[int](inner, "n")
		if err := inner.Set("n", n+1); err != nil {
			t.Error(err)
		}
		fmt.Fprint(w, n+1)
	})
	var outerSession *session.Session
	outer := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			outerSession = session.FromContext(r.Context())
			next.ServeHTTP(w, r)
		})
	}
	srv := httptest.NewServer(httpmw.New(m)(outer(httpmw.New(m)(h))))
	t.Cleanup(srv.Close)
	c := (&fixture{srv: srv}).client(t)
	resp, body := get(t, c, srv.URL)
	if n := len(resp.Header.Values("Set-Cookie")); n != 1 || body != "1" {
		t.Fatalf("first request: %d Set-Cookie, body %q; want one cookie and 1", n, body)
	}
	if inner != outerSession {
		t.Fatal("the inner middleware made a second session for the same Manager")
	}
	if _, body := get(t, c, srv.URL); body != "2" {
		t.Fatalf("second request = %q; want 2", body)
	}
}

// Two Managers on one cookie name would overwrite each other's cookie:
// every request fails loudly instead (503, logged), naming the cookie.
func TestTwoManagersOnOneCookieNameFail(t *testing.T) {
	a, b := newManager(t, "sid"), newManager(t, "sid")
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := b.FromContext(r.Context()).Set("n", 1); err == nil || !strings.Contains(err.Error(), `"sid"`) {
			t.Errorf("Set = %v; want an error naming the shared cookie", err)
		}
	})
	srv := httptest.NewServer(httpmw.New(a)(httpmw.New(b)(h)))
	t.Cleanup(srv.Close)
	resp, _ := get(t, srv.Client(), srv.URL)
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("status %d; want 503", resp.StatusCode)
	}
}
