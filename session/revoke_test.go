package session_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionmesh/sessionmesh/session"
	"github.com/sessionmesh/sessionmesh/stores/memory"
)

// spyRevoker counts the lookups of the real memory Revoker it wraps and
// injects failures.
type spyRevoker struct {
	session.Revoker
	lookups, revokes atomic.Int64
	fail             atomic.Bool
}

var errRevokerDown = errors.New("revoker down (injected)")

func (r *spyRevoker) Generation(ctx context.Context, p string) (uint64, error) {
	r.lookups.Add(1)
	if r.fail.Load() {
		return 0, errRevokerDown
	}
	return r.Revoker.Generation(ctx, p)
}

func (r *spyRevoker) Revoke(ctx context.Context, p string) (uint64, error) {
	r.revokes.Add(1)
	if r.fail.Load() {
		return 0, errRevokerDown
	}
	return r.Revoker.Revoke(ctx, p)
}

// withRevoker sets a spy around a real memory Revoker, and returns the spy.
func withRevoker(r **spyRevoker) func(*session.Config) {
	*r = &spyRevoker{Revoker: memory.NewRevoker()}
	return func(c *session.Config) { c.Revoker = *r }
}

// login creates a session of principal holding user=principal.
func (e *env) login(t *testing.T, principal string) string {
	t.Helper()
	o := e.request(t, "", func(s *session.Session) {
		must(t, s.Set("user", principal))
		must(t, s.SetPrincipal(principal))
	})
	return o.Token
}

// live reports whether token still names a session, and checks that a
// token that does not gets what a stale cookie gets: a fresh anonymous
// session and the cookie expired.
func (e *env) live(t *testing.T, token string) bool {
	t.Helper()
	var user string
	o := e.request(t, token, func(s *session.Session) {
		var err error
		user, err = session.Get[string](s, "user")
		must(t, err)
	})
	if user == "" && o.Action != session.CookieExpire {
		t.Fatalf("an ended session: outcome %+v; want its cookie expired", o)
	}
	return user != ""
}

func TestPrincipalIsKeptAcrossRenewAndHiddenFromKeys(t *testing.T) {
	forEachLoadPath(t, func(t *testing.T, loads func(*session.Config)) {
		var rv *spyRevoker
		e := newEnv(t, loads, withRevoker(&rv))
		token := e.login(t, "alice")
		o := e.request(t, token, func(s *session.Session) { must(t, s.Renew()) })
		renewed := o.Token
		e.request(t, renewed, func(s *session.Session) {
			p, err := s.Principal()
			if err != nil || p != "alice" {
				t.Errorf("Principal after Renew = %q, %v; want alice", p, err)
			}
			keys, err := s.Keys()
			must(t, err)
			if len(keys) != 1 || keys[0] != "user" {
				t.Errorf("Keys = %q; want only [user]: the principal is not a value", keys)
			}
			for _, err := range []error{s.Set("\x00principal\x00", "bob"), s.Delete("\x00principal\x00")} {
				if !errors.Is(err, session.ErrInvalidKey) {
					t.Errorf("Set or Delete of the principal's key: %v; want ErrInvalidKey", err)
				}
			}
		})
		// Renew kept the generation too: the revoke ends the renewed session.
		must(t, e.m.RevokePrincipal(context.Background(), "alice"))
		if e.live(t, renewed) {
			t.Fatal("the renewed session survived RevokePrincipal")
		}
	})
}

func TestSetPrincipalEmptyAndClearMakeTheSessionAnonymous(t *testing.T) {
	var rv *spyRevoker
	e := newEnv(t, withRevoker(&rv))
	for _, end := range []func(*session.Session) error{
		func(s *session.Session) error { return s.SetPrincipal("") },
		func(s *session.Session) error { return s.Clear() },
	} {
		token := e.login(t, "alice")
		e.request(t, token, func(s *session.Session) { must(t, end(s)) })
		e.request(t, token, func(s *session.Session) {
			if p, err := s.Principal(); err != nil || p != "" {
				t.Errorf("Principal = %q, %v; want none", p, err)
			}
		})
		// An anonymous session is not revoked with alice's.
		must(t, e.m.RevokePrincipal(context.Background(), "alice"))
		var found bool
		e.request(t, token, func(s *session.Session) { found = s.ID() == token })
		if !found {
			t.Error("a session made anonymous ended with alice's revoke")
		}
	}
}

func TestRevokePrincipalEndsEverySessionOfThePrincipal(t *testing.T) {
	forEachLoadPath(t, func(t *testing.T, loads func(*session.Config)) {
		var rv *spyRevoker
		e := newEnv(t, loads, withRevoker(&rv))
		laptop, phone, bob := e.login(t, "alice"), e.login(t, "alice"), e.login(t, "bob")
		if !e.live(t, laptop) || !e.live(t, phone) {
			t.Fatal("alice's sessions do not load before the revoke")
		}
		must(t, e.m.RevokePrincipal(context.Background(), "alice"))
		if e.live(t, laptop) || e.live(t, phone) {
			t.Fatal("a session of alice survived RevokePrincipal")
		}
		if !e.live(t, bob) {
			t.Fatal("bob's session ended with alice's revoke")
		}
		// Logging in again after the revoke works.
		if again := e.login(t, "alice"); !e.live(t, again) {
			t.Fatal("a login after the revoke does not load")
		}
	})
}

// TestRevokeOnDestroy: Destroy ends the one session, and with
// RevokeOnDestroy every session of its principal too.
func TestRevokeOnDestroy(t *testing.T) {
	for _, onDestroy := range []bool{false, true} {
		var rv *spyRevoker
		e := newEnv(t, withRevoker(&rv), func(c *session.Config) { c.RevokeOnDestroy = onDestroy })
		laptop, phone := e.login(t, "alice"), e.login(t, "alice")
		if o := e.request(t, laptop, func(s *session.Session) { must(t, s.Destroy()) }); o.Action != session.CookieExpire {
			t.Fatalf("Destroy: outcome %+v; want the cookie expired", o)
		}
		if e.live(t, laptop) {
			t.Fatal("the destroyed session loads")
		}
		if alive := e.live(t, phone); alive == onDestroy {
			t.Fatalf("RevokeOnDestroy %t: alice's other session live = %t after her logout; want %t", onDestroy, alive, !onDestroy)
		}
		if want := map[bool]int64{false: 0, true: 1}[onDestroy]; rv.revokes.Load() != want {
			t.Fatalf("RevokeOnDestroy %t: %d revokes; want %d", onDestroy, rv.revokes.Load(), want)
		}
	}
}

// TestRevokeOnDestroyFailure: when the revoke fails, so does the logout
// (503), and the session is not deleted: the user can try again.
func TestRevokeOnDestroyFailure(t *testing.T) {
	var rv *spyRevoker
	e := newEnv(t, withRevoker(&rv), func(c *session.Config) { c.RevokeOnDestroy = true })
	token := e.login(t, "alice")
	s := e.m.Start(context.Background(), token)
	must(t, s.Destroy())
	rv.fail.Store(true)
	if _, err := e.m.Commit(s); !errors.Is(err, errRevokerDown) {
		t.Fatalf("Destroy with the Revoker down: %v; want its error", err)
	}
	rv.fail.Store(false)
	if !e.live(t, token) {
		t.Fatal("a logout that failed deleted the session")
	}
}

func TestRevokerErrorFailsTheRequest(t *testing.T) {
	var rv *spyRevoker
	e := newEnv(t, withRevoker(&rv))
	token := e.login(t, "alice")
	rv.fail.Store(true)
	s := e.m.Start(context.Background(), token)
	if _, err := session.Get[string](s, "user"); !errors.Is(err, errRevokerDown) {
		t.Fatalf("Get with the Revoker down: %v; want its error", err)
	}
	if _, err := e.m.Commit(s); !errors.Is(err, errRevokerDown) {
		t.Fatalf("Commit with the Revoker down: %v; want its error (a 503), never the session let through", err)
	}
	s = e.m.Start(context.Background())
	if err := s.SetPrincipal("bob"); !errors.Is(err, errRevokerDown) {
		t.Fatalf("SetPrincipal with the Revoker down: %v; want its error", err)
	}
	if err := e.m.RevokePrincipal(context.Background(), "alice"); !errors.Is(err, errRevokerDown) {
		t.Fatalf("RevokePrincipal with the Revoker down: %v; want its error", err)
	}
	rv.fail.Store(false)
	if !e.live(t, token) {
		t.Fatal("the session did not load once the Revoker was back")
	}
}

func TestRevokerLookups(t *testing.T) {
	var rv *spyRevoker
	e := newEnv(t, withRevoker(&rv))
	anonymous := e.create(t, "user", "nobody")
	e.request(t, anonymous, func(s *session.Session) { session.Get[string](s, "user") })
	if n := rv.lookups.Load(); n != 0 {
		t.Fatalf("%d lookups for a session without a principal; want none", n)
	}
	token := e.login(t, "alice")
	before := rv.lookups.Load()
	for range 3 {
		e.live(t, token)
	}
	if n := rv.lookups.Load() - before; n != 3 {
		t.Fatalf("%d lookups for 3 requests without RevokerCache; want one each", n)
	}
}

func TestRevokerCacheBoundsLookups(t *testing.T) {
	var rv *spyRevoker
	const cache = time.Minute
	e := newEnv(t, withRevoker(&rv), func(c *session.Config) { c.RevokerCache = cache })
	// Another worker: its own Manager (and cache) over the same store and
	// Revoker.
	other, err := session.NewManager(e.m.Config())
	must(t, err)
	token := e.login(t, "alice") // asks the Revoker and fills the cache
	before := rv.lookups.Load()
	for range 5 {
		e.live(t, token)
	}
	if n := rv.lookups.Load() - before; n != 0 {
		t.Fatalf("%d lookups within RevokerCache; want none", n)
	}
	// A revoke on the other worker is seen here once the cache expires...
	must(t, other.RevokePrincipal(context.Background(), "alice"))
	if !e.live(t, token) {
		t.Fatal("the revoke was seen within the cache time; the test assumes the cache")
	}
	e.clock.Advance(cache)
	if e.live(t, token) {
		t.Fatal("the revoked session still loads after RevokerCache")
	}
	// ... and a revoke here at once.
	token = e.login(t, "alice")
	must(t, e.m.RevokePrincipal(context.Background(), "alice"))
	if e.live(t, token) {
		t.Fatal("a revoke through this Manager was not seen at once")
	}
}

// TestRevokerCacheDoesNotEndANewerLogin: a login recorded after a revoke
// on another worker loads here even while the cache holds the generation
// from before the revoke.
func TestRevokerCacheDoesNotEndANewerLogin(t *testing.T) {
	var rv *spyRevoker
	e := newEnv(t, withRevoker(&rv), func(c *session.Config) { c.RevokerCache = time.Hour })
	other, err := session.NewManager(e.m.Config())
	must(t, err)
	old := e.login(t, "alice")
	must(t, other.RevokePrincipal(context.Background(), "alice"))
	s := other.Start(context.Background())
	must(t, s.Set("user", "alice"))
	must(t, s.SetPrincipal("alice"))
	o, err := other.Commit(s)
	must(t, err)
	if !e.live(t, o.Token) {
		t.Fatal("a login after the revoke was ended by the cached generation")
	}
	if e.live(t, old) {
		t.Fatal("the revoked session loads once the Revoker was asked again")
	}
}

// TestWithoutRevoker: with Revoker nil a principal is recorded and read
// back at no cost: a request of a logged-in session makes the one store
// load any request makes, and nothing else.
func TestWithoutRevoker(t *testing.T) {
	e := newEnv(t)
	token := e.login(t, "alice")
	calls := e.spy.calls()
	e.request(t, token, func(s *session.Session) {
		if p, err := s.Principal(); err != nil || p != "alice" {
			t.Errorf("Principal = %q, %v; want alice", p, err)
		}
	})
	if n := e.spy.calls() - calls; n != 1 {
		t.Fatalf("%d store calls for a request of a logged-in session; want the one load", n)
	}
	err := e.m.RevokePrincipal(context.Background(), "alice")
	if !errors.Is(err, errors.ErrUnsupported) {
		t.Fatalf("RevokePrincipal without a Revoker: %v; want errors.ErrUnsupported", err)
	}
}

func TestPrincipalErrors(t *testing.T) {
	var rv *spyRevoker
	e := newEnv(t, withRevoker(&rv))
	long := string(make([]byte, session.MaxPrincipalLen+1))
	e.request(t, "", func(s *session.Session) {
		if err := s.SetPrincipal(long); !errors.Is(err, session.ErrInvalidPrincipal) {
			t.Errorf("SetPrincipal of %d bytes: %v; want ErrInvalidPrincipal", len(long), err)
		}
	})
	for _, p := range []string{"", long} {
		if err := e.m.RevokePrincipal(context.Background(), p); !errors.Is(err, session.ErrInvalidPrincipal) {
			t.Errorf("RevokePrincipal(%d bytes): %v; want ErrInvalidPrincipal", len(p), err)
		}
	}
	var nilSession *session.Session
	if err := nilSession.SetPrincipal("alice"); !errors.Is(err, session.ErrNoSession) {
		t.Errorf("SetPrincipal on a nil Session: %v; want ErrNoSession", err)
	}
	if _, err := nilSession.Principal(); !errors.Is(err, session.ErrNoSession) {
		t.Errorf("Principal on a nil Session: %v; want ErrNoSession", err)
	}
}

func TestRevokerConfigValidation(t *testing.T) {
	for name, change := range map[string]func(*session.Config){
		"RevokerCache":    func(c *session.Config) { c.RevokerCache = time.Second },
		"RevokeOnDestroy": func(c *session.Config) { c.RevokeOnDestroy = true },
	} {
		cfg := session.DefaultConfig(&spy{})
		change(&cfg)
		var fe *session.FieldError
		if err := cfg.Validate(); !errors.As(err, &fe) || fe.Field != name {
			t.Errorf("%s without a Revoker: %v; want a FieldError for it", name, err)
		}
	}
}

// TestUnreadablePrincipalEndsTheSession: a stored principal that does not
// decode (written by another program, or under another Codec) cannot be
// shown current, so the session ends rather than failing every request.
func TestUnreadablePrincipalEndsTheSession(t *testing.T) {
	var rv *spyRevoker
	e := newEnv(t, withRevoker(&rv))
	p := session.Patch{NewID: session.NewID(), Now: e.clock.Now(), Idle: time.Hour,
		Set: map[string][]byte{"user": []byte(`"alice"`), "\x00principal\x00": []byte(`"alice"`)}}
	token, err := e.spy.Store.Save(context.Background(), "", p)
	must(t, err)
	if e.live(t, token) {
		t.Fatal("a session whose principal does not decode loaded")
	}
}

// TestRevokedTokenIsSkippedLikeAnExpiredOne: of the cookies a request
// sends, a revoked one is passed over as an expired one is, and the next
// one that loads is the session. A principal may hold ':'.
func TestRevokedTokenIsSkippedLikeAnExpiredOne(t *testing.T) {
	var rv *spyRevoker
	e := newEnv(t, withRevoker(&rv))
	revoked, other := e.login(t, "alice"), e.login(t, "tenant:bob")
	must(t, e.m.RevokePrincipal(context.Background(), "alice"))
	var p string
	e.requestTokens(t, []string{revoked, other}, func(s *session.Session) {
		var err error
		p, err = s.Principal()
		must(t, err)
	})
	if p != "tenant:bob" {
		t.Fatalf("the session of [revoked, other] is %q's; want tenant:bob's", p)
	}
}

// slowRevoker answers a lookup with the generation it read before it was
// let go: a lookup in flight while a revoke happens.
type slowRevoker struct {
	session.Revoker
	read, release chan struct{}
	hold          atomic.Bool
}

func (r *slowRevoker) Generation(ctx context.Context, p string) (uint64, error) {
	gen, err := r.Revoker.Generation(ctx, p)
	if r.hold.Load() {
		r.read <- struct{}{}
		<-r.release
	}
	return gen, err
}

// A lookup that read the old generation before this Manager's revoke and
// answers after it must not put the old generation back in the cache: the
// revoked sessions would load here for a whole RevokerCache.
func TestRevokeWinsOverALookupInFlight(t *testing.T) {
	rv := &slowRevoker{Revoker: memory.NewRevoker(), read: make(chan struct{}), release: make(chan struct{})}
	e := newEnv(t, func(c *session.Config) { c.Revoker, c.RevokerCache = rv, time.Hour })
	other := e.login(t, "alice") // a device logged in before the revoke
	rv.hold.Store(true)
	done := make(chan struct{})
	go func() { // a login elsewhere: SetPrincipal always asks the Revoker
		defer close(done)
		s := e.m.Start(context.Background())
		s.SetPrincipal("alice") // reads the old generation, then waits
		e.m.Commit(s)
	}()
	<-rv.read
	must(t, e.m.RevokePrincipal(context.Background(), "alice"))
	close(rv.release)
	<-done
	rv.hold.Store(false)
	if e.live(t, other) {
		t.Fatal("a revoked session loads: the lookup in flight put the old generation back in the cache")
	}
}
