package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/sessionmesh/sessionmesh/session"
	"github.com/sessionmesh/sessionmesh/stores"
	"github.com/sessionmesh/sessionmesh/stores/memory"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fixture is the demo's handlers on a real HTTP server over the memory
// store, as stores.Open builds it from the default config.
type fixture struct {
	d     *demo
	store session.Store
	srv   *httptest.Server
}

func newFixture(t *testing.T, change ...func(*session.Config)) *fixture {
	t.Helper()
	cfg := stores.DefaultConfig()
	st, err := stores.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stores.Close(st) })
	sc := cfg.Session(st)
	for _, f := range change {
		f(&sc)
	}
	m, err := session.NewManager(sc)
	if err != nil {
		t.Fatal(err)
	}
	d := newDemo("w-test", m, slog.New(slog.NewTextHandler(io.Discard, nil)))
	d.ready.Store(true)
	srv := httptest.NewServer(d.routes())
	t.Cleanup(srv.Close)
	return &fixture{d: d, store: st, srv: srv}
}

// browser is one client with its own cookie jar.
type browser struct {
	t   *testing.T
	c   *http.Client
	url string
}

func (f *fixture) browser(t *testing.T) *browser {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &browser{t: t, c: &http.Client{Jar: jar}, url: f.srv.URL}
}

// get requests path and returns the status, the body and the response.
func (b *browser) get(path string) (int, string, *http.Response) {
	b.t.Helper()
	return b.getWith(path, "")
}

// getWith requests path with the given Accept header ("": none).
func (b *browser) getWith(path, accept string) (int, string, *http.Response) {
	b.t.Helper()
	req, err := http.NewRequest("GET", b.url+path, nil)
	if err != nil {
		b.t.Fatal(err)
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		b.t.Fatalf("GET %s: %v", path, err)
	}
	return resp.StatusCode, string(body), resp
}

// expect requests path and fails unless it answers code with body.
func (b *browser) expect(path string, code int, body string) *http.Response {
	b.t.Helper()
	gotCode, gotBody, resp := b.get(path)
	if gotCode != code || gotBody != body {
		b.t.Fatalf("GET %s = %d %q, want %d %q", path, gotCode, gotBody, code, body)
	}
	return resp
}

// post sends a POST of the form body to path, with extra headers, and
// returns the status and the body.
func (b *browser) post(path string, form url.Values, header ...string) (int, string) {
	b.t.Helper()
	req, err := http.NewRequest("POST", b.url+path, strings.NewReader(form.Encode()))
	if err != nil {
		b.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		b.t.Fatalf("POST %s: %v", path, err)
	}
	return resp.StatusCode, string(body)
}

// login posts user=NAME to /login and fails unless it answers 200.
func (b *browser) login(user string) {
	b.t.Helper()
	if code, body := b.post("/login", url.Values{"user": {user}}); code != 200 || body != "logged in as "+user+"\n" {
		b.t.Fatalf("POST /login user=%s = %d %q, want 200 \"logged in as %s\"", user, code, body, user)
	}
}

// sid returns the session cookie the jar holds, "" when none.
func (b *browser) sid() string {
	u, _ := http.NewRequest("GET", b.url, nil)
	for _, c := range b.c.Jar.Cookies(u.URL) {
		if c.Name == "sid" {
			return c.Value
		}
	}
	return ""
}

func (f *fixture) loads(t *testing.T, token string) bool {
	t.Helper()
	_, found, err := f.store.Load(context.Background(), token)
	if err != nil {
		t.Fatal(err)
	}
	return found
}

func TestCounter(t *testing.T) {
	f := newFixture(t)
	alice, bob := f.browser(t), f.browser(t)
	alice.expect("/", 200, "1\n")
	alice.expect("/", 200, "2\n")
	resp := alice.expect("/", 200, "3\n")
	if got := resp.Header.Get("Content-Type"); got != "text/plain; charset=utf-8" {
		t.Errorf("Content-Type = %q, want plain text", got)
	}
	bob.expect("/", 200, "1\n")
	alice.expect("/peek", 200, "3\n")
	alice.expect("/peek", 200, "3\n")
	alice.expect("/", 200, "4\n")
	bob.expect("/peek", 200, "1\n")
}

func TestPeekWithoutSession(t *testing.T) {
	f := newFixture(t)
	b := f.browser(t)
	resp := b.expect("/peek", 200, "0\n")
	if len(resp.Header.Values("Set-Cookie")) != 0 {
		t.Fatal("peeking without a session created one")
	}
}

func TestServedBy(t *testing.T) {
	f := newFixture(t)
	b := f.browser(t)
	for _, path := range []string{"/", "/peek", "/healthz", "/readyz", "/nope"} {
		if _, _, resp := b.get(path); resp.Header.Get("X-Served-By") != "w-test" {
			t.Errorf("GET %s: X-Served-By = %q, want w-test", path, resp.Header.Get("X-Served-By"))
		}
	}
}

func TestLoginRenewsAndKeepsData(t *testing.T) {
	f := newFixture(t)
	b := f.browser(t)
	b.expect("/", 200, "1\n")
	old := b.sid()
	b.expect("/whoami", 401, "not logged in\n")
	b.login("alice")
	if b.sid() == old || b.sid() == "" {
		t.Fatalf("login kept the session ID %q: no defence against fixation", old)
	}
	if f.loads(t, old) {
		t.Error("the pre-login ID still loads")
	}
	b.expect("/whoami", 200, "alice\n")
	b.expect("/", 200, "2\n")
}

func TestLoginNeedsAUser(t *testing.T) {
	f := newFixture(t)
	b := f.browser(t)
	for _, form := range []url.Values{{}, {"user": {""}}, {"user": {strings.Repeat("a", maxUserLen+1)}}, {"user": {"\xff"}}} {
		if code, body := b.post("/login", form); code != 400 {
			t.Errorf("POST /login %q = %d %q, want 400", form.Encode(), code, body)
		}
	}
	// The user comes from the body only: a URL ends up in logs.
	if code, body := b.post("/login?user=alice", nil); code != 400 {
		t.Errorf("POST /login?user=alice with no body = %d %q, want 400", code, body)
	}
	if b.sid() != "" {
		t.Error("a refused login created a session")
	}
}

func TestLogoutDestroys(t *testing.T) {
	f := newFixture(t)
	b := f.browser(t)
	b.login("bob")
	b.expect("/", 200, "1\n")
	id := b.sid()
	if code, body := b.post("/logout", nil); code != 200 || body != "logged out\n" {
		t.Fatalf("POST /logout = %d %q, want 200 \"logged out\"", code, body)
	}
	if b.sid() != "" {
		t.Fatalf("after logout the jar still holds sid=%q; want the cookie expired", b.sid())
	}
	if f.loads(t, id) {
		t.Error("the destroyed session still loads")
	}
	b.expect("/whoami", 401, "not logged in\n")
	b.expect("/", 200, "1\n")
}

// TestConcurrentRequestsKeepBothKeys sends two requests of one session at
// once; a test-only handler holds each until both have loaded the session,
// then each sets its own key. Both keys must be stored.
func TestConcurrentRequestsKeepBothKeys(t *testing.T) {
	f := newFixture(t)
	var loaded sync.WaitGroup
	loaded.Add(2)
	f.d.sess.HandleFunc("GET /test/set", func(w http.ResponseWriter, r *http.Request) {
		s := session.FromContext(r.Context())
		s.Keys() // load before the other request saves
		loaded.Done()
		loaded.Wait()
		key := r.FormValue("key")
		if err := s.Set(key, key); err != nil {
			t.Errorf("Set(%s): %v", key, err)
		}
	})
	b := f.browser(t)
	b.expect("/", 200, "1\n")
	var done sync.WaitGroup
	for _, key := range []string{"a", "b"} {
		done.Add(1)
		go func() {
			defer done.Done()
			resp, err := b.c.Get(b.url + "/test/set?key=" + key)
			if err == nil {
				resp.Body.Close()
			}
			if err != nil || resp.StatusCode != 200 {
				t.Errorf("set %s: %v %v", key, resp, err)
			}
		}()
	}
	done.Wait()
	rec, found, err := f.store.Load(context.Background(), b.sid())
	if err != nil || !found || string(rec.Values["a"]) != `"a"` || string(rec.Values["b"]) != `"b"` || string(rec.Values["counter"]) != "1" {
		t.Fatalf("session after two concurrent requests: %q (found %v, %v); want a, b and counter", rec.Values, found, err)
	}
}

func TestHealthAndReadiness(t *testing.T) {
	f := newFixture(t)
	b := f.browser(t)
	b.expect("/healthz", 200, "ok\n")
	b.expect("/readyz", 200, "ready\n")
	f.d.ready.Store(false)
	b.expect("/readyz", 503, "not ready: starting or shutting down\n")
	b.expect("/healthz", 200, "ok\n")
	// HEAD is a GET without the body; other methods are not health checks
	// and get the application's 404, as they did behind one ServeMux.
	for method, want := range map[string]int{"HEAD": 200, "POST": 404, "DELETE": 404} {
		req, _ := http.NewRequest(method, f.srv.URL+"/healthz", nil)
		resp, err := b.c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("%s /healthz: %d, want %d", method, resp.StatusCode, want)
		}
	}
}

// Login and logout change the session, so a GET (which a cross-site link or
// image sends with the user's cookie under SameSite=Lax) must not reach
// them (audit L6).
func TestLoginAndLogoutArePostOnly(t *testing.T) {
	f := newFixture(t)
	b := f.browser(t)
	for _, path := range []string{"/login?user=mallory", "/logout"} {
		code, _, resp := b.get(path)
		if code != http.StatusMethodNotAllowed || !strings.Contains(resp.Header.Get("Allow"), "POST") {
			t.Errorf("GET %s = %d (Allow %q), want 405 allowing POST", path, code, resp.Header.Get("Allow"))
		}
	}
	if b.sid() != "" {
		t.Error("a GET /login created a session")
	}
	b.login("alice")
	b.get("/logout")
	b.expect("/whoami", 200, "alice\n")
}

// A page on another site that posts to /login or /logout from the user's
// browser (login or logout CSRF) is refused with 403 and changes nothing;
// the browser's own same-origin posts, and clients that are not browsers
// (no Sec-Fetch-Site, no Origin), go through (audit L6).
func TestCrossOriginLoginAndLogoutAreRefused(t *testing.T) {
	f := newFixture(t)
	b := f.browser(t)
	b.login("alice")
	id := b.sid()
	crossOrigin := [][]string{
		{"Sec-Fetch-Site", "cross-site"},
		{"Origin", "https://attacker.example"},
	}
	for _, h := range crossOrigin {
		for _, path := range []string{"/login", "/logout"} {
			if code, body := b.post(path, url.Values{"user": {"mallory"}}, h...); code != http.StatusForbidden {
				t.Errorf("POST %s with %s: %s = %d %q, want 403", path, h[0], h[1], code, body)
			}
		}
	}
	if b.sid() != id {
		t.Fatalf("a refused cross-origin request changed the session cookie from %q to %q", id, b.sid())
	}
	b.expect("/whoami", 200, "alice\n")
	if code, body := b.post("/logout", nil, "Sec-Fetch-Site", "same-origin"); code != 200 {
		t.Fatalf("same-origin POST /logout = %d %q, want 200", code, body)
	}
	b.expect("/whoami", 401, "not logged in\n")
}

// Log out everywhere ends the user's sessions on every device: deleted
// through DestroyPrincipal where the store finds them (the memory store
// here), with or without a revoke store; revoked, a copy of the cookie
// included, where it cannot but a revoke store is set; and where neither
// is possible it says so and changes nothing.
func TestLogoutEverywhere(t *testing.T) {
	noIndex := func(c *session.Config) { c.Store = struct{ session.Store }{c.Store} }
	withRevoker := func(c *session.Config) { c.Revoker = memory.NewRevoker() }
	for name, change := range map[string][]func(*session.Config){
		"deleted":              nil,
		"deleted and revoked":  {withRevoker},
		"revoked (no listing)": {noIndex, withRevoker},
	} {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, change...)
			phone, laptop, bob := f.browser(t), f.browser(t), f.browser(t)
			phone.login("alice")
			laptop.login("alice")
			bob.login("bob")
			laptop.expect("/whoami", 200, "alice\n")
			if code, body := phone.post("/logout-everywhere", nil); code != 200 || body != "logged out everywhere\n" {
				t.Fatalf("POST /logout-everywhere = %d %q; want 200", code, body)
			}
			laptop.expect("/whoami", 401, "not logged in\n")
			phone.expect("/whoami", 401, "not logged in\n")
			bob.expect("/whoami", 200, "bob\n")
		})
	}

	plain := newFixture(t, noIndex).browser(t)
	plain.login("alice")
	if code, _ := plain.post("/logout-everywhere", nil); code != 501 {
		t.Fatalf("POST /logout-everywhere without a listing store or a revoke store = %d; want 501", code)
	}
	plain.expect("/whoami", 200, "alice\n")
}

// "Remember me" at login gives the session the longer timeouts: its
// cookie lives the rememberMe expiry, not the default's.
func TestLoginRememberMe(t *testing.T) {
	f := newFixture(t)
	for _, c := range []struct {
		form url.Values
		want time.Duration
	}{
		{url.Values{"user": {"alice"}}, f.d.m.Config().IdleTimeout},
		{url.Values{"user": {"alice"}, "remember": {"1"}}, f.d.m.Config().RememberMe.Idle},
	} {
		req, _ := http.NewRequest("POST", f.srv.URL+"/login", strings.NewReader(c.form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		var maxAge int
		for _, ck := range resp.Cookies() {
			if ck.Name == "sid" {
				maxAge = ck.MaxAge
			}
		}
		if got := time.Duration(maxAge) * time.Second; got < c.want-time.Minute || got > c.want {
			t.Errorf("login %v: cookie Max-Age %v; want %v", c.form, got, c.want)
		}
	}
	if f.d.m.Config().RememberMe.Idle <= f.d.m.Config().IdleTimeout {
		t.Fatalf("remember me (%v) is not longer than the default (%v)", f.d.m.Config().RememberMe.Idle, f.d.m.Config().IdleTimeout)
	}
}

// downRevoker is a Revoker that does not answer.
type downRevoker struct{}

func (downRevoker) Generation(context.Context, string) (uint64, error) {
	return 0, errors.New("revoker down (injected)")
}
func (downRevoker) Revoke(context.Context, string) (uint64, error) {
	return 0, errors.New("revoker down (injected)")
}

// A login whose Revoker does not answer fails with 503 and changes
// nothing: the visitor is not logged in, not even without a principal.
func TestLoginWithTheRevokerDownChangesNothing(t *testing.T) {
	f := newFixture(t, func(c *session.Config) { c.Revoker = downRevoker{} })
	b := f.browser(t)
	if code, _ := b.post("/login", url.Values{"user": {"alice"}}); code != 503 {
		t.Fatalf("POST /login with the revoker down = %d; want 503", code)
	}
	b.expect("/whoami", 401, "not logged in\n")
}
