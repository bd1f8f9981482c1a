package session_test

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/sessionmesh/sessionmesh/session"
)

func TestStartAndUntouchedCommitDoNoIO(t *testing.T) {
	e := newEnv(t)
	token := e.create(t, "k", 1)
	calls := e.spy.calls()
	o := e.request(t, token, func(s *session.Session) {})
	if o.Action != session.CookieKeep || e.spy.calls() != calls {
		t.Fatalf("untouched session: outcome %+v, %d store calls; want nothing", o, e.spy.calls()-calls)
	}
}

func TestNewSessionOutcome(t *testing.T) {
	e := newEnv(t)
	o := e.request(t, "", func(s *session.Session) { must(t, s.Set("k", 1)) })
	if o.Action != session.CookieSet || !session.ValidID(o.Token) || o.MaxAge != 14*24*time.Hour {
		t.Fatalf("outcome %+v, want CookieSet, a valid ID, MaxAge two weeks", o)
	}
}

func TestAnonymousReadStoresNothing(t *testing.T) {
	e := newEnv(t)
	o := e.request(t, "", func(s *session.Session) { session.Get[int](s, "counter") })
	if o.Action != session.CookieKeep || e.spy.saves.Load() != 0 {
		t.Fatalf("read without a cookie: outcome %+v, %d saves; want none", o, e.spy.saves.Load())
	}
}

func TestUnknownTokenIsNeverAdopted(t *testing.T) {
	e := newEnv(t)
	forged := session.NewID()
	o := e.request(t, forged, func(s *session.Session) { session.Get[int](s, "k") })
	if o.Action != session.CookieExpire {
		t.Errorf("read with an unknown ID: outcome %+v, want the stale cookie expired", o)
	}
	o = e.request(t, forged, func(s *session.Session) { must(t, s.Set("k", 1)) })
	if o.Action != session.CookieSet || o.Token == forged {
		t.Fatalf("write with an unknown ID: outcome %+v, want a fresh ID", o)
	}
	if _, found, _ := e.spy.Store.Load(context.Background(), forged); found {
		t.Fatal("the forged ID was stored")
	}
}

// TestSeveralTokensTheFirstThatLoadsWins: a request that carries several
// cookies of the session's name (one tossed in by a sibling subdomain) gets
// the session of the first that loads, over both ways of loading, and a
// request none of whose tokens loads expires no cookie (it could be the
// user's real one); writing then starts a fresh session.
func TestSeveralTokensTheFirstThatLoadsWins(t *testing.T) {
	for name, change := range map[string]func(*session.Config){"binary": func(*session.Config) {}, "map": mapLoads} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, change)
			first, second := e.create(t, "k", "first"), e.create(t, "k", "second")
			unknown := session.NewID()
			for _, tt := range []struct {
				tokens []string
				want   string
			}{
				{[]string{unknown, "junk", second, first}, "second"},
				{[]string{first, second}, "first"},
				{[]string{"", second}, "second"},
			} {
				var got string
				var err error
				o := e.requestTokens(t, tt.tokens, func(s *session.Session) { got, err = session.Get[string](s, "k") })
				if got != tt.want || err != nil || o.Action != session.CookieKeep {
					t.Errorf("tokens %q: read %q (err %v) with outcome %+v, want %q and no cookie", tt.tokens, got, err, o, tt.want)
				}
			}
			loads := e.spy.loads.Load()
			o := e.requestTokens(t, []string{"junk", unknown}, func(s *session.Session) { session.Get[string](s, "k") })
			if o.Action != session.CookieKeep {
				t.Errorf("read with two unknown tokens: outcome %+v, want no cookie (expiring it could delete the user's own)", o)
			}
			if n := e.spy.loads.Load() - loads; n != 2 {
				t.Errorf("two unknown tokens cost %d loads, want 2", n)
			}
			o = e.requestTokens(t, []string{"junk", unknown}, func(s *session.Session) { must(t, s.Set("k", 1)) })
			if o.Action != session.CookieSet || o.Token == unknown || !session.ValidID(o.Token) {
				t.Errorf("write with two unknown tokens: outcome %+v, want a fresh ID", o)
			}
		})
	}
}

// A request cannot make the store look up more than eight IDs however
// many cookies it sends: junk and duplicates are not tried, and nothing is
// expired when several were sent.
func TestSeveralTokensAreCapped(t *testing.T) {
	e := newEnv(t)
	valid := e.create(t, "k", "mine")
	var tokens []string
	for range 100 {
		tokens = append(tokens, "junk", session.NewID())
	}
	loads := e.spy.loads.Load()
	o := e.requestTokens(t, append(tokens, valid), func(s *session.Session) { session.Get[string](s, "k") })
	if n := e.spy.loads.Load() - loads; n != 8 {
		t.Errorf("200 tokens cost %d loads, want 8", n)
	}
	if o.Action != session.CookieKeep {
		t.Errorf("outcome %+v, want no cookie: several were sent", o)
	}
	var got string
	unknown := session.NewID()
	e.requestTokens(t, []string{"junk", unknown, unknown, unknown, "junk", valid}, func(s *session.Session) { got, _ = session.Get[string](s, "k") })
	if got != "mine" {
		t.Errorf("junk and a repeated unknown ID before the valid one: read %q, want %q", got, "mine")
	}
}

// A store error while trying the tokens ends the search: the request
// fails as with one token, instead of asking a store that is down again for
// every other cookie.
func TestSeveralTokensStopAtAStoreError(t *testing.T) {
	e := newEnv(t)
	e.spy.failLoad.Store(true)
	s := e.m.Start(context.Background(), session.NewID(), session.NewID(), session.NewID())
	if _, err := s.Keys(); !errors.Is(err, errDown) {
		t.Fatalf("Keys with the store down = %v, want the store's error", err)
	}
	if n := e.spy.loads.Load(); n != 1 {
		t.Errorf("the store was asked %d times, want once", n)
	}
}

func TestOversizedTokenIsNotLookedUp(t *testing.T) {
	e := newEnv(t)
	e.request(t, strings.Repeat("a", 5000), func(s *session.Session) { session.Get[int](s, "k") })
	if n := e.spy.loads.Load(); n != 0 {
		t.Fatalf("a 5000-byte token caused %d loads, want 0", n)
	}
}

// TestTouchIsLazy: reads cost no write until TouchInterval has passed; then
// one read re-writes the session so its idle deadline slides.
func TestTouchIsLazy(t *testing.T) {
	e := newEnv(t, func(c *session.Config) { c.IdleTimeout, c.TouchInterval = time.Hour, 10*time.Minute })
	token := e.create(t, "k", 1)
	saves := e.spy.saves.Load()
	e.clock.Advance(9 * time.Minute)
	if o := e.request(t, token, func(s *session.Session) { session.Get[int](s, "k") }); o.Action != session.CookieKeep {
		t.Fatalf("read before TouchInterval: %+v, want no cookie", o)
	}
	if e.spy.saves.Load() != saves {
		t.Fatal("a read before TouchInterval wrote to the store")
	}
	e.clock.Advance(2 * time.Minute)
	o := e.request(t, token, func(s *session.Session) { session.Get[int](s, "k") })
	if o.Action != session.CookieSet || o.Token != token || o.MaxAge != time.Hour {
		t.Fatalf("read after TouchInterval: %+v, want the same cookie with a full hour", o)
	}
	e.clock.Advance(59 * time.Minute) // 70 minutes after creation, 59 after the touch
	if get[int](t, e, token, "k") != 1 {
		t.Fatal("the touch did not slide the idle deadline")
	}
}

// TestCookieSlidesLazily: writes save every time, but the cookie is sent
// again only by the first write of each TouchInterval (counted from the
// session's creation), with the Max-Age the write gave the session.
func TestCookieSlidesLazily(t *testing.T) {
	e := newEnv(t, func(c *session.Config) { c.IdleTimeout, c.TouchInterval = time.Hour, 10*time.Minute })
	token := e.create(t, "n", 0)
	write := func(n int) session.Outcome {
		return e.request(t, token, func(s *session.Session) { must(t, s.Set("n", n)) })
	}
	e.clock.Advance(4 * time.Minute)
	if o := write(1); o.Action != session.CookieKeep {
		t.Fatalf("write 4 minutes after creation: %+v; want no cookie (the creation's covers it)", o)
	}
	e.clock.Advance(7 * time.Minute) // 11 minutes: the second interval
	if o := write(2); o.Action != session.CookieSet || o.Token != token || o.MaxAge != time.Hour {
		t.Fatalf("first write of the second interval: %+v; want the cookie with a full hour", o)
	}
	e.clock.Advance(8 * time.Minute) // 19 minutes: still the second interval
	if o := write(3); o.Action != session.CookieKeep {
		t.Fatalf("second write of the second interval: %+v; want no cookie", o)
	}
	if get[int](t, e, token, "n") != 3 {
		t.Fatal("writes without a cookie were not saved")
	}
}

// TestCookieOutlivesActivity: whatever the rhythm of a user's writes, the
// cookie the browser holds never expires while the user is active, and it
// ends at most TouchInterval before the session it names.
func TestCookieOutlivesActivity(t *testing.T) {
	const idle, touch = time.Hour, 6 * time.Minute
	for _, every := range []time.Duration{time.Minute, 5 * time.Minute, 7 * time.Minute, 59 * time.Minute} {
		e := newEnv(t, func(c *session.Config) { c.IdleTimeout, c.TouchInterval = idle, touch })
		token := e.create(t, "n", 0)
		cookieEnds := e.clock.Now().Add(idle)
		for i := range 300 {
			e.clock.Advance(every)
			if !e.clock.Now().Before(cookieEnds) {
				t.Fatalf("writes every %v: the cookie expired before write %d", every, i)
			}
			if o := e.request(t, token, func(s *session.Session) { must(t, s.Set("n", i)) }); o.Action == session.CookieSet {
				cookieEnds = e.clock.Now().Add(o.MaxAge)
			}
			if sessionEnds := e.clock.Now().Add(idle); cookieEnds.Before(sessionEnds.Add(-touch)) {
				t.Fatalf("writes every %v: after write %d the cookie ends %v before the session", every, i, sessionEnds.Sub(cookieEnds))
			}
		}
	}
}

func TestIdleExpiry(t *testing.T) {
	e := newEnv(t, func(c *session.Config) { c.IdleTimeout, c.TouchInterval = time.Hour, 0 })
	token := e.create(t, "k", 1)
	e.clock.Advance(time.Hour - time.Second)
	if _, found, _ := e.spy.Store.Load(context.Background(), token); !found {
		t.Fatal("gone a second before the idle deadline")
	}
	e.clock.Advance(time.Second)
	if get[int](t, e, token, "k") != 0 {
		t.Fatal("still there at the idle deadline")
	}
}

func TestAbsoluteLifetime(t *testing.T) {
	e := newEnv(t, func(c *session.Config) { c.IdleTimeout, c.TouchInterval, c.Lifetime = time.Hour, 0, 90*time.Minute })
	token := e.create(t, "k", 0)
	for i := 1; i <= 2; i++ {
		e.clock.Advance(40 * time.Minute)
		o := e.request(t, token, func(s *session.Session) { must(t, s.Set("k", i)) })
		if i == 2 && o.MaxAge != 10*time.Minute {
			t.Errorf("cookie MaxAge at minute 80 = %v, want the 10 minutes left of the lifetime", o.MaxAge)
		}
	}
	e.clock.Advance(11 * time.Minute)
	if get[int](t, e, token, "k") != 0 {
		t.Fatal("an active session outlived its absolute lifetime")
	}
}

func TestChangeAfterCommitIsRefusedAndReported(t *testing.T) {
	e := newEnv(t)
	s := e.m.Start(context.Background(), "")
	must(t, s.Set("a", 1))
	o, err := e.m.Commit(s)
	must(t, err)
	if again, err := e.m.Commit(s); err != nil || again.Action != session.CookieKeep {
		t.Errorf("second Commit = %+v, %v; want a no-op", again, err)
	}
	if err := s.Set("b", 2); !errors.Is(err, session.ErrCommitted) {
		t.Fatalf("Set after Commit: err = %v, want ErrCommitted", err)
	}
	if e.m.LateChanges() != 1 || !strings.Contains(e.logs.String(), "changed after the response started") {
		t.Fatalf("late change not reported: count %d, log %q", e.m.LateChanges(), e.logs)
	}
	if has, _ := s.Has("a"); !has {
		t.Error("reads after Commit stopped working")
	}
	if get[int](t, e, o.Token, "b") != 0 {
		t.Error("the late change was stored")
	}
}

// TestDestroyWinsOverAConcurrentPatch: request A destroys the session while
// request B, which loaded it before, sets a key. B's patch is dropped and
// logged; the session does not come back.
func TestDestroyWinsOverAConcurrentPatch(t *testing.T) {
	e := newEnv(t)
	token := e.create(t, "k", 1)
	a := e.m.Start(context.Background(), token)
	b := e.m.Start(context.Background(), token)
	must(t, b.Set("late", 2))
	must(t, a.Destroy())
	if _, err := e.m.Commit(a); err != nil {
		t.Fatal(err)
	}
	o, err := e.m.Commit(b)
	if err != nil || o.Action != session.CookieKeep {
		t.Fatalf("patch after a concurrent destroy: %+v, %v; want dropped quietly", o, err)
	}
	if !strings.Contains(e.logs.String(), "ended by a concurrent request") {
		t.Errorf("the dropped patch was not logged: %q", e.logs)
	}
	if _, found, _ := e.spy.Store.Load(context.Background(), token); found {
		t.Fatal("a patch resurrected a destroyed session")
	}
}

func TestStoreErrors(t *testing.T) {
	e := newEnv(t)
	token := e.create(t, "k", 1)
	e.spy.failLoad.Store(true)
	s := e.m.Start(context.Background(), token)
	if _, err := session.Get[int](s, "k"); !errors.Is(err, errDown) {
		t.Errorf("Get with the store down: err = %v, want it to wrap the store's error", err)
	}
	if err := s.Set("k", 2); !errors.Is(err, errDown) {
		t.Errorf("Set with the store down: err = %v", err)
	}
	if _, err := e.m.Commit(s); !errors.Is(err, errDown) || !errors.Is(s.Err(), errDown) {
		t.Errorf("Commit = %v, Err() = %v; want both to wrap the store's error", err, s.Err())
	}
	e.spy.failLoad.Store(false)
	e.spy.failSave.Store(true)
	s = e.m.Start(context.Background(), token)
	must(t, s.Set("k", 3))
	if _, err := e.m.Commit(s); !errors.Is(err, errDown) {
		t.Errorf("Commit with saves failing = %v, want the store's error", err)
	}
	e.spy.failSave.Store(false)
	if get[int](t, e, token, "k") != 1 {
		t.Error("a failed save changed the session")
	}
}

func TestCookie(t *testing.T) {
	set := session.Outcome{Action: session.CookieSet, Token: "tok", MaxAge: time.Hour}
	// Requests to localhost, the one host where SecureAuto leaves Secure
	// off over plain HTTP (TestSecureRule has the whole rule).
	plain := httptest.NewRequest("GET", "http://localhost/", nil)
	overTLS := httptest.NewRequest("GET", "https://localhost/", nil)
	overTLS.TLS = &tls.ConnectionState{}
	proxied := httptest.NewRequest("GET", "http://localhost/", nil)
	proxied.Header.Set("X-Forwarded-Proto", "https")
	tests := []struct {
		name   string
		cfg    func(*session.Config)
		o      session.Outcome
		r      *http.Request
		secure bool
		maxAge int
	}{
		{"defaults over http to localhost", nil, set, plain, false, 3600},
		{"auto over TLS", nil, set, overTLS, true, 3600},
		{"proxy header not trusted", nil, set, proxied, false, 3600},
		{"proxy header trusted", func(c *session.Config) { c.Cookie.TrustProxy = true }, set, proxied, true, 3600},
		{"always", func(c *session.Config) { c.Cookie.Secure = session.SecureAlways }, set, plain, true, 3600},
		{"never", func(c *session.Config) { c.Cookie.Secure = session.SecureNever }, set, overTLS, false, 3600},
		{"no request", nil, set, nil, true, 3600},
		{"session only", func(c *session.Config) { c.Cookie.SessionOnly = true }, set, plain, false, 0},
		{"a session's own browser-session cookie", nil, session.Outcome{Action: session.CookieSet, Token: "tok", MaxAge: time.Hour, Life: session.CookieLifeBrowser}, plain, false, 0},
		{"a session's own Max-Age under session only", func(c *session.Config) { c.Cookie.SessionOnly = true },
			session.Outcome{Action: session.CookieSet, Token: "tok", MaxAge: time.Hour, Life: session.CookieLifeMaxAge}, plain, false, 3600},
		{"expire", nil, session.Outcome{Action: session.CookieExpire}, plain, false, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, func(c *session.Config) {
				c.Cookie.Domain = "example.com"
				if tt.cfg != nil {
					tt.cfg(c)
				}
			})
			c := e.m.Cookie(tt.o, tt.r)
			if c.Name != "sid" || !c.HttpOnly || c.Path != "/" || c.Domain != "example.com" || c.SameSite != http.SameSiteLaxMode {
				t.Errorf("cookie %v: want sid, HttpOnly, Path=/, Domain, SameSite=Lax", c)
			}
			if c.Secure != tt.secure || c.MaxAge != tt.maxAge {
				t.Errorf("cookie %v: Secure=%v MaxAge=%d, want %v %d", c, c.Secure, c.MaxAge, tt.secure, tt.maxAge)
			}
			if tt.o.Action == session.CookieExpire && c.Value != "" {
				t.Errorf("expired cookie carries value %q", c.Value)
			}
		})
	}
}

// CookieHeader is Cookie(...).String(), however the cookie is configured.
func TestCookieHeaderMatchesCookieString(t *testing.T) {
	overTLS := httptest.NewRequest("GET", "https://x/", nil)
	overTLS.TLS = &tls.ConnectionState{}
	configs := map[string]func(*session.Config){
		"defaults":       func(*session.Config) {},
		"domain":         func(c *session.Config) { c.Cookie.Domain = "example.com" },
		"dotted domain":  func(c *session.Config) { c.Cookie.Domain = ".example.com" },
		"invalid domain": func(c *session.Config) { c.Cookie.Domain = "exa mple;com" },
		"path":           func(c *session.Config) { c.Cookie.Path = "/app; x" },
		"strict":         func(c *session.Config) { c.Cookie.SameSite = http.SameSiteStrictMode },
		"none": func(c *session.Config) {
			c.Cookie.SameSite, c.Cookie.Secure = http.SameSiteNoneMode, session.SecureAlways
		},
		"default mode": func(c *session.Config) { c.Cookie.SameSite = http.SameSiteDefaultMode },
		"session only": func(c *session.Config) { c.Cookie.SessionOnly = true },
		"never secure": func(c *session.Config) { c.Cookie.Secure = session.SecureNever },
		"cookie name":  func(c *session.Config) { c.CookieName = "__Host-s" },
		"secure name":  func(c *session.Config) { c.CookieName = "__Secure-s" },
		"partitioned":  func(c *session.Config) { c.Cookie.Partitioned = true },
	}
	outcomes := []session.Outcome{
		{Action: session.CookieSet, Token: session.NewID(), MaxAge: 14 * 24 * time.Hour},
		{Action: session.CookieSet, Token: "sealed.Yh3k-9_Q", MaxAge: time.Millisecond},
		{Action: session.CookieSet, Token: "with space", MaxAge: time.Hour},
		{Action: session.CookieSet, Token: "a,b;c\"d\\e\x01é", MaxAge: time.Hour},
		{Action: session.CookieSet, Token: "", MaxAge: time.Hour},
		{Action: session.CookieSet, Token: session.NewID(), MaxAge: time.Hour, Life: session.CookieLifeBrowser},
		{Action: session.CookieSet, Token: session.NewID(), MaxAge: time.Hour, Life: session.CookieLifeMaxAge},
		{Action: session.CookieExpire},
		{Action: session.CookieKeep},
	}
	for name, cfg := range configs {
		e := newEnv(t, cfg)
		for _, o := range outcomes {
			for _, r := range []*http.Request{nil, httptest.NewRequest("GET", "http://x/", nil), httptest.NewRequest("GET", "http://localhost/", nil), overTLS} {
				want := e.m.Cookie(o, r).String()
				if got := e.m.CookieHeader(o, r); got != want {
					t.Errorf("%s: CookieHeader(%+v) = %q; Cookie().String() = %q", name, o, got, want)
				}
			}
		}
	}
}

// A new session's cookie ends when its absolute lifetime does, if that
// comes before the idle deadline.
func TestNewSessionCookieEndsWithLifetime(t *testing.T) {
	e := newEnv(t, func(c *session.Config) { c.IdleTimeout, c.TouchInterval, c.Lifetime = time.Hour, 0, 30*time.Minute })
	o := e.request(t, "", func(s *session.Session) { must(t, s.Set("k", 1)) })
	if o.Action != session.CookieSet || o.MaxAge != 30*time.Minute {
		t.Fatalf("outcome %+v; want a cookie for the 30 minutes of the lifetime", o)
	}
}

// Whatever the token, CookieHeader writes what net/http would.
func FuzzCookieHeader(f *testing.F) {
	for _, seed := range []string{session.NewID(), "a b", "a,b", `a"b`, "a;b", "a\\b", "\x7f", "é", ""} {
		f.Add(seed, int64(time.Hour))
	}
	m, err := session.NewManager(session.DefaultConfig(struct{ session.Store }{})) // never called
	if err != nil {
		f.Fatal(err)
	}
	log.SetOutput(io.Discard) // net/http logs each byte it drops
	f.Cleanup(func() { log.SetOutput(os.Stderr) })
	f.Fuzz(func(t *testing.T, token string, maxAge int64) {
		o := session.Outcome{Action: session.CookieSet, Token: token, MaxAge: time.Duration(maxAge)}
		if got, want := m.CookieHeader(o, nil), m.Cookie(o, nil).String(); got != want {
			t.Fatalf("CookieHeader(%q) = %q; Cookie().String() = %q", token, got, want)
		}
	})
}

// Past its ctx's deadline a Commit writes nothing, whatever the store: a
// client that gave up may have retried, and the retry's write must stand.
func TestCommitAfterDeadlineWritesNothing(t *testing.T) {
	e := newEnv(t)
	token := e.create(t, "k", 1)
	ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Millisecond))
	defer cancel()
	for name, change := range map[string]func(*session.Session){
		"save":    func(s *session.Session) { must(t, s.Set("k", 2)) },
		"destroy": func(s *session.Session) { s.Destroy() },
	} {
		s := e.m.Start(ctx, token)
		change(s)
		calls := e.spy.calls()
		if _, err := e.m.Commit(s); !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "deadline passed") {
			t.Errorf("%s after the deadline: err = %v, want one wrapping context.DeadlineExceeded", name, err)
		}
		if n := e.spy.calls() - calls; n != 0 {
			t.Errorf("%s after the deadline made %d store calls, want none", name, n)
		}
	}
	if got := get[int](t, e, token, "k"); got != 1 {
		t.Errorf("k = %d after two late commits, want 1", got)
	}
}

// minter is a store that chooses the IDs of new sessions.
type minter struct {
	session.Store
	minted []string
}

func (m *minter) NewID() string {
	id := session.NewID()
	m.minted = append(m.minted, id)
	return id
}

// A store that chooses where sessions live (the cluster store) gets to
// mint the IDs of new and renewed sessions.
func TestStoreMintsTheIDs(t *testing.T) {
	e := newEnv(t)
	st := &minter{Store: e.spy}
	cfg := e.m.Config()
	cfg.Store = st
	m, err := session.NewManager(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.m = m
	o := e.request(t, "", func(s *session.Session) { must(t, s.Set("k", 1)) })
	if len(st.minted) != 1 || o.Token != st.minted[0] {
		t.Fatalf("new session %q; the store minted %v", o.Token, st.minted)
	}
	o = e.request(t, o.Token, func(s *session.Session) { must(t, s.Renew()) })
	if len(st.minted) != 2 || o.Token != st.minted[1] {
		t.Fatalf("renewed session %q; the store minted %v", o.Token, st.minted)
	}
}
