package httpmw_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessionmesh/sessionmesh/httpmw"
	"github.com/sessionmesh/sessionmesh/session"
)

// counter is the Geddy example: every request adds one to "counter".
func counter(w http.ResponseWriter, r *http.Request) {
	s := session.FromContext(r.Context())
	n, err := session.Get[int](s, "counter")
	if err == nil {
		err = s.Set("counter", n+1)
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	fmt.Fprintf(w, "%d\n", n+1)
}

func TestCounterCountsPerBrowser(t *testing.T) {
	f := newFixture(t, counter)
	alice, bob := f.client(t), f.client(t)
	for _, want := range []string{"1\n", "2\n", "3\n"} {
		if _, got := get(t, alice, f.srv.URL); got != want {
			t.Fatalf("alice: counter = %q, want %q", got, want)
		}
	}
	if _, got := get(t, bob, f.srv.URL); got != "1\n" {
		t.Fatalf("bob (second jar): counter = %q, want 1: sessions leak between browsers", got)
	}
	if _, got := get(t, alice, f.srv.URL); got != "4\n" {
		t.Fatalf("alice after bob: counter = %q, want 4", got)
	}
}

func TestNewSessionCookieAndCacheHeaders(t *testing.T) {
	f := newFixture(t, counter)
	resp, _ := get(t, f.srv.Client(), f.srv.URL)
	c := sessionCookie(resp)
	if c == nil {
		t.Fatalf("no session cookie; Set-Cookie = %q", resp.Header.Values("Set-Cookie"))
	}
	if !c.HttpOnly || c.Secure || c.SameSite != http.SameSiteLaxMode || c.Path != "/" {
		t.Errorf("cookie %q: want HttpOnly, not Secure over plain HTTP to loopback, SameSite=Lax, Path=/", c.Raw)
	}
	if c.MaxAge != int((14 * 24 * time.Hour).Seconds()) {
		t.Errorf("cookie Max-Age = %d, want two weeks", c.MaxAge)
	}
	if !session.ValidID(c.Value) {
		t.Errorf("cookie value %q is not a session ID", c.Value)
	}
	if got := resp.Header.Get("Vary"); got != "Cookie" {
		t.Errorf("Vary = %q, want Cookie", got)
	}
	if got := resp.Header.Get("Cache-Control"); got != `no-cache="Set-Cookie"` {
		t.Errorf(`Cache-Control = %q, want no-cache="Set-Cookie"`, got)
	}
}

func TestSecureCookieOverTLS(t *testing.T) {
	f := newFixture(t, counter)
	srv := httptest.NewTLSServer(httpmw.New(f.m)(http.HandlerFunc(counter)))
	defer srv.Close()
	resp, _ := get(t, srv.Client(), srv.URL)
	if c := sessionCookie(resp); c == nil || !c.Secure {
		t.Fatalf("cookie over TLS with SecureAuto: %v, want Secure", resp.Header.Values("Set-Cookie"))
	}
}

// TestSecureCookieOffLoopback: plain HTTP with a Host that is not
// loopback, as a TLS proxy that was not declared with TrustProxy passes
// it, gets a Secure cookie under the default SecureAuto.
func TestSecureCookieOffLoopback(t *testing.T) {
	f := newFixture(t, counter)
	req, _ := http.NewRequest("GET", f.srv.URL, nil)
	req.Host = "shop.example"
	resp, err := f.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if c := sessionCookie(resp); c == nil || !c.Secure {
		t.Fatalf("plain HTTP to Host shop.example: Set-Cookie %q, want Secure", resp.Header.Values("Set-Cookie"))
	}
}

func TestUntouchedSessionCostsNothing(t *testing.T) {
	f := newFixture(t, func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "static\n")
	})
	req, _ := http.NewRequest("GET", f.srv.URL, nil)
	req.AddCookie(&http.Cookie{Name: "sid", Value: session.NewID()})
	resp, err := f.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if n := f.spy.loads.Load() + f.spy.saves.Load() + f.spy.deletes.Load(); n != 0 {
		t.Errorf("a handler that never used the session caused %d store calls, want 0", n)
	}
	if v := resp.Header.Values("Set-Cookie"); len(v) != 0 {
		t.Errorf("Set-Cookie = %q, want none", v)
	}
	if v := resp.Header.Get("Vary"); v != "" {
		t.Errorf("Vary = %q on a response that did not use the session, want none", v)
	}
}

func TestReadOnlyRequestWritesNothing(t *testing.T) {
	f := newFixture(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/set" {
			counter(w, r)
			return
		}
		n, _ := session.Get[int](session.FromContext(r.Context()), "counter")
		fmt.Fprintf(w, "%d\n", n)
	})
	c := f.client(t)
	get(t, c, f.srv.URL+"/set")
	saves := f.spy.saves.Load()
	resp, body := get(t, c, f.srv.URL+"/peek")
	if body != "1\n" {
		t.Fatalf("peek = %q, want 1", body)
	}
	if got := f.spy.saves.Load() - saves; got != 0 {
		t.Errorf("read-only request saved %d times, want 0 (touch is lazy)", got)
	}
	if v := resp.Header.Values("Set-Cookie"); len(v) != 0 {
		t.Errorf("read-only request: Set-Cookie = %q, want none", v)
	}
	if got := resp.Header.Get("Vary"); got != "Cookie" {
		t.Errorf("read-only request: Vary = %q, want Cookie (the body depends on it)", got)
	}
}

func TestVaryNotDuplicated(t *testing.T) {
	f := newFixture(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Vary", "Accept-Encoding, cookie")
		counter(w, r)
	})
	resp, _ := get(t, f.srv.Client(), f.srv.URL)
	if got := resp.Header.Values("Vary"); len(got) != 1 {
		t.Fatalf("Vary = %q, want the handler's single line kept", got)
	}
}

// Cookie joins the handler's own Vary lines, however many there are.
func TestVaryKeepsTheHandlersLines(t *testing.T) {
	for _, lines := range [][]string{{"Accept"}, {"Accept", "Origin"}, {"Accept", "Origin", "Accept-Language"}} {
		f := newFixture(t, func(w http.ResponseWriter, r *http.Request) {
			for _, l := range lines {
				w.Header().Add("Vary", l)
			}
			counter(w, r)
		})
		c := f.client(t)
		for range 2 { // a new session (Set-Cookie), then an existing one
			resp, _ := get(t, c, f.srv.URL)
			if got, want := resp.Header.Values("Vary"), append(lines, "Cookie"); !slices.Equal(got, want) {
				t.Errorf("Vary = %q, want %q", got, want)
			}
		}
	}
}

// Headers the handler set before the commit are kept next to the
// session's: its own cookie, its Cache-Control.
func TestHandlerHeadersKept(t *testing.T) {
	f := newFixture(t, func(w http.ResponseWriter, r *http.Request) {
		http.SetCookie(w, &http.Cookie{Name: "theme", Value: "dark"})
		w.Header().Set("Cache-Control", "private")
		counter(w, r)
	})
	resp, _ := get(t, f.srv.Client(), f.srv.URL)
	if c := resp.Cookies(); len(c) != 2 || c[0].Name != "theme" || sessionCookie(resp) == nil {
		t.Errorf("Set-Cookie = %q; want the handler's theme cookie and the session cookie", resp.Header.Values("Set-Cookie"))
	}
	if got := resp.Header.Values("Cache-Control"); len(got) != 2 || got[0] != "private" || got[1] != `no-cache="Set-Cookie"` {
		t.Errorf("Cache-Control = %q; want the handler's private, then no-cache=\"Set-Cookie\"", got)
	}
	if got := resp.Header.Values("Vary"); len(got) != 1 || got[0] != "Cookie" {
		t.Errorf("Vary = %q; want Cookie", got)
	}
}

func TestUnknownIDIsNotAdopted(t *testing.T) {
	f := newFixture(t, counter)
	forged := session.NewID()
	req, _ := http.NewRequest("GET", f.srv.URL, nil)
	req.AddCookie(&http.Cookie{Name: "sid", Value: forged})
	resp, err := f.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	c := sessionCookie(resp)
	if c == nil || c.Value == forged {
		t.Fatalf("Set-Cookie = %q: the client's unknown ID must be replaced by a fresh one", resp.Header.Values("Set-Cookie"))
	}
	if _, found := load(t, f.store, forged); found {
		t.Error("the forged ID was stored")
	}
}

func TestStaleCookieIsExpired(t *testing.T) {
	f := newFixture(t, func(w http.ResponseWriter, r *http.Request) {
		session.Get[int](session.FromContext(r.Context()), "counter")
	})
	req, _ := http.NewRequest("GET", f.srv.URL, nil)
	req.AddCookie(&http.Cookie{Name: "sid", Value: "garbage"})
	resp, err := f.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if c := sessionCookie(resp); c == nil || c.MaxAge >= 0 {
		t.Fatalf("Set-Cookie = %q, want the stale cookie expired", resp.Header.Values("Set-Cookie"))
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d for a garbage cookie, want 200", resp.StatusCode)
	}
}

// TestSeveralCookiesTheOneThatLoadsWins replays the audit's cookie
// tossing (L4): a sibling subdomain sets many junk "sid" cookies that the
// browser sends before the user's own. The user's session must still load
// and count on, and no response may expire "sid" (that would delete the
// user's real cookie); the user's cookie sent first changes nothing.
func TestSeveralCookiesTheOneThatLoadsWins(t *testing.T) {
	f := newFixture(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/peek" {
			n, _ := session.Get[int](session.FromContext(r.Context()), "counter")
			fmt.Fprintf(w, "%d\n", n)
			return
		}
		counter(w, r)
	})
	resp, _ := get(t, f.srv.Client(), f.srv.URL)
	valid := sessionCookie(resp).Value
	junk := make([]string, 1000)
	for i := range junk {
		junk[i] = fmt.Sprintf("sid=junk%d", i+1)
	}
	for _, tt := range []struct {
		name, path, cookie, want string
	}{
		{"1000 junk, then valid, read", "/peek", strings.Join(append(junk, "sid="+valid), "; "), "1\n"},
		{"1000 junk, then valid, write", "/", strings.Join(append(junk, "sid="+valid), "; "), "2\n"},
		{"valid, then junk", "/", "sid=" + valid + "; sid=junk1; sid=" + session.NewID(), "3\n"},
		{"junk only, read", "/peek", "sid=junk1; sid=" + session.NewID(), "0\n"},
	} {
		req, _ := http.NewRequest("GET", f.srv.URL+tt.path, nil)
		req.Header.Set("Cookie", tt.cookie)
		resp, err := f.srv.Client().Do(req)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || string(body) != tt.want {
			t.Errorf("%s: %d %q, want 200 %q", tt.name, resp.StatusCode, body, tt.want)
		}
		if c := sessionCookie(resp); c != nil && c.MaxAge < 0 {
			t.Errorf("%s: Set-Cookie %q expires sid: with several cookies sent, the user's own would go too", tt.name, c.Raw)
		}
	}
}

// TestCommitBeforeFirstByte checks that the session is in the store by the
// time the handler's first Write returns.
func TestCommitBeforeFirstByte(t *testing.T) {
	var storedAtWrite bool
	var f *fixture
	f = newFixture(t, func(w http.ResponseWriter, r *http.Request) {
		s := session.FromContext(r.Context())
		s.Set("k", "v")
		io.WriteString(w, "first byte")
		rec, found := load(t, f.store, s.ID())
		storedAtWrite = found && string(rec.Values["k"]) == `"v"`
	})
	get(t, f.srv.Client(), f.srv.URL)
	if !storedAtWrite {
		t.Fatal("the session was not saved when the first Write returned")
	}
}

func TestReadFromCommitsFirst(t *testing.T) {
	var f *fixture
	var stored bool
	f = newFixture(t, func(w http.ResponseWriter, r *http.Request) {
		s := session.FromContext(r.Context())
		s.Set("k", 1)
		if _, err := w.(io.ReaderFrom).ReadFrom(strings.NewReader("copied")); err != nil {
			t.Errorf("ReadFrom: %v", err)
		}
		_, stored = load(t, f.store, s.ID())
	})
	resp, body := get(t, f.srv.Client(), f.srv.URL)
	if !stored || body != "copied" || sessionCookie(resp) == nil {
		t.Fatalf("stored %v, body %q, cookie %q; want saved before the copy, body and cookie sent", stored, body, resp.Header.Values("Set-Cookie"))
	}
}

func TestCommitWhenHandlerWritesNothing(t *testing.T) {
	f := newFixture(t, func(w http.ResponseWriter, r *http.Request) {
		session.FromContext(r.Context()).Set("k", 1)
	})
	resp, _ := get(t, f.srv.Client(), f.srv.URL)
	c := sessionCookie(resp)
	if c == nil {
		t.Fatal("no cookie for a session set by a handler that wrote nothing")
	}
	if rec, found := load(t, f.store, c.Value); !found || string(rec.Values["k"]) != "1" {
		t.Fatalf("stored record %+v found=%v, want k=1", rec, found)
	}
}

// TestWriteBeforeTouch pins the defined behaviour of a handler that writes
// its body before using the session: reads work, changes fail with
// ErrCommitted, are logged and counted, and nothing is stored.
func TestWriteBeforeTouch(t *testing.T) {
	type result struct {
		n      int
		getErr error
		setErr error
	}
	got := make(chan result, 1)
	f := newFixture(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/set" {
			counter(w, r)
			return
		}
		io.WriteString(w, "body first\n")
		s := session.FromContext(r.Context())
		n, err := session.Get[int](s, "counter")
		got <- result{n, err, s.Set("counter", 100)}
	})
	c := f.client(t)
	get(t, c, f.srv.URL+"/set")
	get(t, c, f.srv.URL+"/late")
	res := <-got
	if res.getErr != nil || res.n != 1 {
		t.Errorf("Get after the body was written = %d, %v; want 1, nil (reads keep working)", res.n, res.getErr)
	}
	if !errors.Is(res.setErr, session.ErrCommitted) {
		t.Errorf("Set after the body was written: err = %v, want ErrCommitted", res.setErr)
	}
	assertLateChangeReported(t, f)
	if _, body := get(t, c, f.srv.URL+"/set"); body != "2\n" {
		t.Errorf("next counter = %q, want 2: the late change must not be stored", body)
	}
}

// TestSetAfterWrite: what was set before the first write is saved, what is
// set after is refused and reported.
func TestSetAfterWrite(t *testing.T) {
	setErr := make(chan error, 1)
	f := newFixture(t, func(w http.ResponseWriter, r *http.Request) {
		s := session.FromContext(r.Context())
		s.Set("before", 1)
		io.WriteString(w, "hello\n")
		setErr <- s.Set("after", 2)
	})
	resp, _ := get(t, f.srv.Client(), f.srv.URL)
	if err := <-setErr; !errors.Is(err, session.ErrCommitted) {
		t.Fatalf("Set after Write: err = %v, want ErrCommitted", err)
	}
	assertLateChangeReported(t, f)
	c := sessionCookie(resp)
	if c == nil {
		t.Fatal("no session cookie: the change made before the write was lost")
	}
	rec, _ := load(t, f.store, c.Value)
	if string(rec.Values["before"]) != "1" || rec.Values["after"] != nil {
		t.Fatalf("stored values %q, want before=1 and no after", rec.Values)
	}
}

func assertLateChangeReported(t *testing.T, f *fixture) {
	t.Helper()
	if n := f.m.LateChanges(); n != 1 {
		t.Errorf("Manager.LateChanges() = %d, want 1", n)
	}
	if !strings.Contains(f.logs.String(), "changed after the response started") {
		t.Errorf("the late change was not logged; log:\n%s", f.logs)
	}
}

func TestInformationalStatusDoesNotCommit(t *testing.T) {
	setErr := make(chan error, 1)
	f := newFixture(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Link", "</style.css>; rel=preload")
		w.WriteHeader(http.StatusEarlyHints)
		setErr <- session.FromContext(r.Context()).Set("k", 1)
		io.WriteString(w, "ok")
	})
	resp, _ := get(t, f.srv.Client(), f.srv.URL)
	if err := <-setErr; err != nil {
		t.Fatalf("Set after 103 Early Hints: %v, want nil (1xx is not the response start)", err)
	}
	if resp.StatusCode != http.StatusOK || sessionCookie(resp) == nil {
		t.Fatalf("status %d, Set-Cookie %q; want 200 with a cookie", resp.StatusCode, resp.Header.Values("Set-Cookie"))
	}
}

func TestStoreDownAnswers503(t *testing.T) {
	writeErr := make(chan error, 1)
	f := newFixture(t, func(w http.ResponseWriter, r *http.Request) {
		n, err := session.Get[int](session.FromContext(r.Context()), "counter")
		w.Header().Set("X-Handler", "dropped")
		w.Header().Set("Content-Length", "100")
		_, werr := fmt.Fprintf(w, "handler says %d %v", n, err)
		writeErr <- werr
	})
	f.spy.down.Store(true)
	req, _ := http.NewRequest("GET", f.srv.URL, nil)
	req.AddCookie(&http.Cookie{Name: "sid", Value: session.NewID()})
	resp, err := f.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || string(body) != "session store unavailable\n" {
		t.Fatalf("store down: %d %q, want 503 \"session store unavailable\"", resp.StatusCode, body)
	}
	if resp.Header.Get("X-Outer") != "kept" || resp.Header.Get("X-Handler") != "" {
		t.Errorf("headers %v: want the outer middleware's kept and the handler's dropped", resp.Header)
	}
	if err := <-writeErr; !errors.Is(err, httpmw.ErrDiscarded) {
		t.Errorf("handler's Write after the failed commit: err = %v, want ErrDiscarded", err)
	}
	if !strings.Contains(f.logs.String(), errDown.Error()) {
		t.Errorf("the store error was not logged; log:\n%s", f.logs)
	}
}

// io.WriteString (the writer's WriteString) commits first, and after a
// failed commit writes nothing, as Write does.
func TestWriteStringCommitsFirst(t *testing.T) {
	writeErr := make(chan error, 1)
	f := newFixture(t, func(w http.ResponseWriter, r *http.Request) {
		session.FromContext(r.Context()).Set("k", 1)
		_, err := io.WriteString(w, "written")
		writeErr <- err
	})
	resp, body := get(t, f.srv.Client(), f.srv.URL)
	if err := <-writeErr; err != nil || body != "written" || sessionCookie(resp) == nil {
		t.Fatalf("WriteString: %v, body %q, cookie %q; want the body and the cookie sent", err, body, resp.Header.Values("Set-Cookie"))
	}
	f.spy.down.Store(true)
	if resp, body = get(t, f.srv.Client(), f.srv.URL); resp.StatusCode != http.StatusServiceUnavailable || body == "written" {
		t.Errorf("store down: %d %q, want 503 from the error handler", resp.StatusCode, body)
	}
	if err := <-writeErr; !errors.Is(err, httpmw.ErrDiscarded) {
		t.Errorf("WriteString after the failed commit: err = %v, want ErrDiscarded", err)
	}
}

func TestCustomErrorHandler(t *testing.T) {
	var got error
	f := newFixture(t, counter, httpmw.WithErrorHandler(func(w http.ResponseWriter, r *http.Request, err error) {
		got = err
		http.Error(w, "custom", http.StatusInternalServerError)
	}))
	f.spy.down.Store(true)
	resp, body := get(t, f.srv.Client(), f.srv.URL)
	if resp.StatusCode != http.StatusInternalServerError || body != "custom\n" {
		t.Fatalf("response %d %q, want the custom handler's 500", resp.StatusCode, body)
	}
	if !errors.Is(got, errDown) {
		t.Fatalf("error handler got %v, want it to wrap the store's error", got)
	}
}

func TestNilManagerIsAnErrorNotAPanic(t *testing.T) {
	var got error
	h := httpmw.New(nil, httpmw.WithErrorHandler(func(w http.ResponseWriter, r *http.Request, err error) {
		got = err
		w.WriteHeader(http.StatusServiceUnavailable)
	}))(http.HandlerFunc(counter))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if rec.Code != http.StatusServiceUnavailable || !errors.Is(got, httpmw.ErrNoManager) {
		t.Fatalf("nil Manager: %d, err %v; want 503 and ErrNoManager", rec.Code, got)
	}
}

func TestFlushCommitsFirst(t *testing.T) {
	var storedAtFlush bool
	var f *fixture
	f = newFixture(t, func(w http.ResponseWriter, r *http.Request) {
		s := session.FromContext(r.Context())
		s.Set("k", 1)
		if err := http.NewResponseController(w).Flush(); err != nil {
			t.Errorf("Flush through the middleware: %v", err)
		}
		_, storedAtFlush = load(t, f.store, s.ID())
		io.WriteString(w, "streamed")
	})
	resp, body := get(t, f.srv.Client(), f.srv.URL)
	if !storedAtFlush || sessionCookie(resp) == nil || body != "streamed" {
		t.Fatalf("stored at flush %v, cookie %q, body %q; want saved, cookie sent, body intact",
			storedAtFlush, resp.Header.Values("Set-Cookie"), body)
	}
}

func TestHijackCommitsFirst(t *testing.T) {
	var id string
	f := newFixture(t, func(w http.ResponseWriter, r *http.Request) {
		s := session.FromContext(r.Context())
		s.Set("k", 1)
		id = s.ID()
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Errorf("Hijack through the middleware: %v", err)
			return
		}
		defer conn.Close()
		brw.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 8\r\nConnection: close\r\n\r\nhijacked")
		brw.Flush()
	})
	_, body := get(t, f.srv.Client(), f.srv.URL)
	if body != "hijacked" {
		t.Fatalf("body %q, want the hijacked connection's", body)
	}
	if _, found := load(t, f.store, id); !found {
		t.Fatal("the session set before Hijack was not saved")
	}
}

func TestHijackAfterFailedCommitIsRefused(t *testing.T) {
	hijackErr := make(chan error, 1)
	f := newFixture(t, func(w http.ResponseWriter, r *http.Request) {
		session.FromContext(r.Context()).Set("k", 1)
		_, _, err := http.NewResponseController(w).Hijack()
		hijackErr <- err
	})
	f.spy.down.Store(true)
	resp, _ := get(t, f.srv.Client(), f.srv.URL)
	if err := <-hijackErr; !errors.Is(err, httpmw.ErrDiscarded) {
		t.Errorf("Hijack after a failed commit: err = %v, want ErrDiscarded", err)
	}
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("status %d, want 503", resp.StatusCode)
	}
}

func TestResponseControllerReachesTheConnection(t *testing.T) {
	f := newFixture(t, func(w http.ResponseWriter, r *http.Request) {
		if err := http.NewResponseController(w).SetWriteDeadline(time.Now().Add(time.Minute)); err != nil {
			t.Errorf("SetWriteDeadline through the middleware: %v (Unwrap broken?)", err)
		}
	})
	get(t, f.srv.Client(), f.srv.URL)
}

func TestRenewKeepsDataAndRetiresOldID(t *testing.T) {
	f := newFixture(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/login" {
			s := session.FromContext(r.Context())
			s.Renew()
			s.Set("user", "alice")
			return
		}
		counter(w, r)
	})
	c := f.client(t)
	resp, _ := get(t, c, f.srv.URL)
	old := sessionCookie(resp).Value
	resp, _ = get(t, c, f.srv.URL+"/login")
	renewed := sessionCookie(resp)
	if renewed == nil || renewed.Value == old {
		t.Fatalf("login Set-Cookie %q, want a new ID", resp.Header.Values("Set-Cookie"))
	}
	if _, found := load(t, f.store, old); found {
		t.Error("the old ID still loads after Renew")
	}
	rec, _ := load(t, f.store, renewed.Value)
	if string(rec.Values["counter"]) != "1" || string(rec.Values["user"]) != `"alice"` {
		t.Errorf("renewed session holds %q, want counter=1 and user=alice", rec.Values)
	}
	if _, body := get(t, c, f.srv.URL); body != "2\n" {
		t.Errorf("counter after login = %q, want 2", body)
	}
}

func TestDestroyExpiresCookieAndDeletesData(t *testing.T) {
	f := newFixture(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/logout" {
			session.FromContext(r.Context()).Destroy()
			return
		}
		counter(w, r)
	})
	c := f.client(t)
	resp, _ := get(t, c, f.srv.URL)
	id := sessionCookie(resp).Value
	resp, _ = get(t, c, f.srv.URL+"/logout")
	if ck := sessionCookie(resp); ck == nil || ck.MaxAge >= 0 {
		t.Fatalf("logout Set-Cookie %q, want the cookie expired", resp.Header.Values("Set-Cookie"))
	}
	if _, found := load(t, f.store, id); found {
		t.Error("the destroyed session still loads")
	}
	if _, body := get(t, c, f.srv.URL); body != "1\n" {
		t.Errorf("counter after logout = %q, want a fresh 1", body)
	}
}

// TestConcurrentRequestsKeepBothKeys holds two requests of one session open
// until both have loaded it, then lets each set its own key.
func TestConcurrentRequestsKeepBothKeys(t *testing.T) {
	var loaded sync.WaitGroup
	loaded.Add(2)
	f := newFixture(t, func(w http.ResponseWriter, r *http.Request) {
		s := session.FromContext(r.Context())
		key := r.URL.Query().Get("key")
		if key == "" {
			counter(w, r)
			return
		}
		s.Keys() // load
		loaded.Done()
		loaded.Wait()
		s.Set(key, key)
	})
	c := f.client(t)
	resp, _ := get(t, c, f.srv.URL)
	id := sessionCookie(resp).Value
	var done sync.WaitGroup
	for _, key := range []string{"a", "b"} {
		done.Add(1)
		go func() {
			defer done.Done()
			get(t, c, f.srv.URL+"/?key="+key)
		}()
	}
	done.Wait()
	rec, _ := load(t, f.store, id)
	if string(rec.Values["a"]) != `"a"` || string(rec.Values["b"]) != `"b"` || string(rec.Values["counter"]) != "1" {
		t.Fatalf("after two concurrent requests the session holds %q, want a, b and counter", rec.Values)
	}
}

func TestPanickingHandlerSavesNothing(t *testing.T) {
	f := newFixture(t, counter)
	h := httpmw.New(f.m)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		session.FromContext(r.Context()).Set("k", 1)
		panic("handler bug")
	}))
	func() {
		defer func() {
			if recover() == nil {
				t.Error("the handler's panic was swallowed; it must reach net/http")
			}
		}()
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	}()
	if n := f.spy.saves.Load(); n != 0 {
		t.Fatalf("a panicking handler caused %d saves, want 0", n)
	}
}

func TestNoSessionWithoutMiddleware(t *testing.T) {
	s := session.FromContext(context.Background())
	if _, err := session.Get[int](s, "counter"); !errors.Is(err, session.ErrNoSession) {
		t.Fatalf("Get without the middleware: err = %v, want ErrNoSession", err)
	}
}

// A request that outlives WithTimeout saves nothing: its client may have
// retried elsewhere already, and a late save would overwrite the retry's.
func TestSaveAfterTimeoutIsRefused(t *testing.T) {
	f := newFixture(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			<-r.Context().Done() // the deadline passes while the handler works
		}
		counter(w, r)
	}, httpmw.WithTimeout(200*time.Millisecond))
	c := f.client(t)
	if _, got := get(t, c, f.srv.URL); got != "1\n" {
		t.Fatalf("a request within the timeout: counter = %q, want 1", got)
	}
	saves := f.spy.saves.Load()
	resp, body := get(t, c, f.srv.URL+"/slow")
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("a request past its timeout: %d %q, want 503", resp.StatusCode, body)
	}
	if n := f.spy.saves.Load() - saves; n != 0 {
		t.Errorf("a request past its timeout called the store's Save %d times, want 0", n)
	}
	if !strings.Contains(f.logs.String(), "deadline passed") {
		t.Errorf("the refused save was not logged with its cause; log:\n%s", f.logs)
	}
	if _, got := get(t, c, f.srv.URL); got != "2\n" {
		t.Fatalf("after the refused save: counter = %q, want 2 (the late request changed nothing)", got)
	}
}

// WithTimeout's ctx is the request's: a deadline for the handler and the
// store, and it ends when the handler returns, as context.WithTimeout's
// cancel would end it, for goroutines the handler left holding it.
func TestTimeoutCtxEndsWithTheRequest(t *testing.T) {
	var kept, child context.Context
	var cancel context.CancelFunc
	f := newFixture(t, func(w http.ResponseWriter, r *http.Request) {
		kept = r.Context()
		child, cancel = context.WithCancel(r.Context())
		if d, ok := kept.Deadline(); !ok || time.Until(d) > time.Minute {
			t.Errorf("the handler's ctx has deadline %v, %v; want one within WithTimeout's minute", d, ok)
		}
		if err := kept.Err(); err != nil {
			t.Errorf("the handler's ctx ended while it ran: %v", err)
		}
		counter(w, r)
	}, httpmw.WithTimeout(time.Minute))
	if _, got := get(t, f.client(t), f.srv.URL); got != "1\n" {
		t.Fatalf("counter = %q, want 1", got)
	}
	defer cancel()
	for name, ctx := range map[string]context.Context{"ctx": kept, "child": child} {
		select {
		case <-ctx.Done():
		case <-time.After(time.Minute):
			t.Fatalf("the handler's %s still runs a minute after the request", name)
		}
		if !errors.Is(ctx.Err(), context.Canceled) {
			t.Errorf("the handler's %s ended with %v, want Canceled", name, ctx.Err())
		}
	}
}

// The error response keeps exactly what the outer middleware set, however
// many headers and whatever the handler did to them first (replaced one,
// appended to another), and none of the handler's own.
func TestErrorResponseKeepsTheOuterHeadersAsTheyWere(t *testing.T) {
	spy := &spyStore{Store: newStore(t)}
	m, err := session.NewManager(session.DefaultConfig(spy))
	if err != nil {
		t.Fatal(err)
	}
	h := httpmw.New(m)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		session.Get[int](session.FromContext(r.Context()), "n")
		w.Header().Set("X-A", "changed")
		w.Header().Add("X-Many", "three")
		w.Header().Set("X-Handler", "dropped")
		fmt.Fprint(w, "not sent")
	}))
	outer := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for _, k := range []string{"X-A", "X-B", "X-C", "X-D"} {
			w.Header().Set(k, k+"-value")
		}
		w.Header().Add("X-Many", "one")
		w.Header().Add("X-Many", "two")
		h.ServeHTTP(w, r)
	})
	spy.down.Store(true)
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("GET", "/", nil)
	req.AddCookie(&http.Cookie{Name: "sid", Value: session.NewID()})
	outer.ServeHTTP(rec, req)
	if rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("status %d; want 503", rec.Code)
	}
	got := rec.Result().Header
	for _, k := range []string{"X-A", "X-B", "X-C", "X-D"} {
		if v := got.Values(k); len(v) != 1 || v[0] != k+"-value" {
			t.Errorf("%s = %q; want [%s-value] as the outer middleware set it", k, v, k)
		}
	}
	if v := got.Values("X-Many"); len(v) != 2 || v[0] != "one" || v[1] != "two" {
		t.Errorf("X-Many = %q; want [one two]", v)
	}
	if got.Get("X-Handler") != "" {
		t.Errorf("the handler's header reached the error response")
	}
}
