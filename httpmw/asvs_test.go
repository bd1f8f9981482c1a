package httpmw_test

// Tests named after the OWASP ASVS session-management requirements that
// SECURITY.md maps to the middleware, for the rows no other test shows as
// directly: each plays what a user (or an attacker) does over HTTP.

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/sessionmesh/sessionmesh/httpmw"
	"github.com/sessionmesh/sessionmesh/internal/testutil"
	"github.com/sessionmesh/sessionmesh/session"
)

// app is a small application behind the middleware: POST /login?user=NAME
// renews the session and stores the user (the login every application
// must write so), POST /logout destroys it, GET /whoami names the user
// or answers 401.
func app(w http.ResponseWriter, r *http.Request) {
	s := session.FromContext(r.Context())
	switch r.URL.Path {
	case "/login":
		if err := s.Renew(); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		s.Set("user", r.URL.Query().Get("user"))
	case "/logout":
		s.Destroy()
	case "/whoami":
		user, _ := session.Get[string](s, "user")
		if user == "" {
			http.Error(w, "not logged in", http.StatusUnauthorized)
			return
		}
		io.WriteString(w, user)
	default:
		counter(w, r)
	}
}

// asvsServer serves app behind the middleware over a real memory store,
// with the session config changed by change.
func asvsServer(t *testing.T, change func(*session.Config)) (*httptest.Server, session.Store) {
	t.Helper()
	st := newStore(t)
	cfg := session.DefaultConfig(st)
	cfg.Logger = slog.New(slog.NewTextHandler(&testutil.Buffer{}, nil))
	change(&cfg)
	m, err := session.NewManager(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(httpmw.New(m)(http.HandlerFunc(app)))
	t.Cleanup(srv.Close)
	return srv, st
}

// call sends method path with the cookie header cookie (none when "") and
// returns the response, its body read.
func call(t *testing.T, srv *httptest.Server, method, path, cookie string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if cookie != "" {
		req.Header.Set("Cookie", cookie)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, path, err)
	}
	return resp, string(body)
}

// cookieOf returns the cookie named name that resp sets, failing the test
// when there is none.
func cookieOf(t *testing.T, resp *http.Response, name string) *http.Cookie {
	t.Helper()
	for _, c := range resp.Cookies() {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no %s cookie in Set-Cookie %q", name, resp.Header.Values("Set-Cookie"))
	return nil
}

// TestASVS_V3_1_1_TokenInURLIsIgnored: the middleware reads the session
// from its cookie only. A live session's ID in the query string (a link
// someone shared, a Referer) opens nothing: the request gets a fresh
// session, and the session it named is left as it was.
func TestASVS_V3_1_1_TokenInURLIsIgnored(t *testing.T) {
	srv, _ := asvsServer(t, func(*session.Config) {})
	resp, _ := call(t, srv, "GET", "/", "")
	id := cookieOf(t, resp, "sid").Value
	for _, q := range []string{"sid", "session", "token", "id"} {
		resp, body := call(t, srv, "GET", "/?"+q+"="+url.QueryEscape(id), "")
		if body != "1\n" || cookieOf(t, resp, "sid").Value == id {
			t.Fatalf("GET /?%s=<live ID>: counter %q, Set-Cookie %q; want a fresh session (1) under a new ID",
				q, body, resp.Header.Values("Set-Cookie"))
		}
	}
	if _, body := call(t, srv, "GET", "/", "sid="+id); body != "2\n" {
		t.Fatalf("the session named in the URLs counts %q, want 2: a URL changed it", body)
	}
}

// TestASVS_V3_2_1_LoginRenewsAPlantedID is session fixation: an attacker
// gets a session ID of their own and plants it in the victim's browser
// (a sibling subdomain can set the cookie). The victim logs in with it;
// the login answers with a new ID, and the planted one, which the
// attacker still holds, is not logged in.
func TestASVS_V3_2_1_LoginRenewsAPlantedID(t *testing.T) {
	srv, st := asvsServer(t, func(*session.Config) {})
	resp, _ := call(t, srv, "GET", "/", "")
	planted := cookieOf(t, resp, "sid").Value

	resp, _ = call(t, srv, "POST", "/login?user=victim", "sid="+planted)
	renewed := cookieOf(t, resp, "sid").Value
	if renewed == planted || !session.ValidID(renewed) {
		t.Fatalf("login with a planted ID set %q; want a new ID", resp.Header.Values("Set-Cookie"))
	}
	if resp, body := call(t, srv, "GET", "/whoami", "sid="+planted); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("the attacker's planted ID after the victim's login: %d %q; want 401", resp.StatusCode, body)
	}
	if _, found := load(t, st, planted); found {
		t.Error("the planted ID still names a session after the login renewed it")
	}
	if _, body := call(t, srv, "GET", "/whoami", "sid="+renewed); body != "victim" {
		t.Fatalf("the victim's new ID: whoami %q, want victim", body)
	}
}

// TestASVS_V3_3_1_ACopiedCookieDiesWithLogout: after logout, a copy of the
// session cookie taken before it (another tab's, the back button's, a
// thief's) opens nothing, with a server-side store. (The cookie store
// cannot do this: SECURITY.md, V3.3.1.)
func TestASVS_V3_3_1_ACopiedCookieDiesWithLogout(t *testing.T) {
	srv, _ := asvsServer(t, func(*session.Config) {})
	resp, _ := call(t, srv, "POST", "/login?user=alice", "")
	copied := "sid=" + cookieOf(t, resp, "sid").Value
	if _, body := call(t, srv, "GET", "/whoami", copied); body != "alice" {
		t.Fatalf("before logout: whoami %q, want alice", body)
	}
	resp, _ = call(t, srv, "POST", "/logout", copied)
	if c := cookieOf(t, resp, "sid"); c.MaxAge >= 0 {
		t.Errorf("logout Set-Cookie %q; want the cookie expired", c.Raw)
	}
	if resp, body := call(t, srv, "GET", "/whoami", copied); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("a copy of the cookie after logout: %d %q; want 401", resp.StatusCode, body)
	}
}

// TestASVS_V3_4_4_HostPrefixedCookie: named __Host-sid, the cookie carries
// what browsers require of that prefix (Secure, Path=/, no Domain) even
// on plain HTTP to loopback, where the default name would not be Secure,
// and the middleware reads the session back from it.
func TestASVS_V3_4_4_HostPrefixedCookie(t *testing.T) {
	srv, _ := asvsServer(t, func(c *session.Config) { c.CookieName = "__Host-sid" })
	resp, _ := call(t, srv, "GET", "/", "")
	c := cookieOf(t, resp, "__Host-sid")
	if !c.Secure || !c.HttpOnly || c.Path != "/" || strings.Contains(strings.ToLower(c.Raw), "domain=") {
		t.Fatalf("Set-Cookie %q; want Secure, HttpOnly, Path=/ and no Domain", c.Raw)
	}
	if _, body := call(t, srv, "GET", "/", "__Host-sid="+c.Value); body != "2\n" {
		t.Fatalf("the session sent back as __Host-sid counts %q, want 2", body)
	}
}

// TestASVS_V3_4_5_CookiePath: an application published under a path of a
// shared host names that path (cookie.path), and the cookie carries it,
// set and expired, so the browser sends it to that path only.
func TestASVS_V3_4_5_CookiePath(t *testing.T) {
	srv, _ := asvsServer(t, func(c *session.Config) { c.Cookie.Path = "/shop/" })
	resp, _ := call(t, srv, "POST", "/login?user=alice", "")
	c := cookieOf(t, resp, "sid")
	if c.Path != "/shop/" {
		t.Fatalf("Set-Cookie %q; want Path=/shop/", c.Raw)
	}
	resp, _ = call(t, srv, "POST", "/logout", "sid="+c.Value)
	if c := cookieOf(t, resp, "sid"); c.Path != "/shop/" || c.MaxAge >= 0 {
		t.Fatalf("logout Set-Cookie %q; want the cookie expired with Path=/shop/ (another path would leave it)", c.Raw)
	}
}
