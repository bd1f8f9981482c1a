package session_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/sessionmesh/sessionmesh/session"
)

const day = 24 * time.Hour

// shortSessions: sessions end after an hour idle and three hours in all,
// unless remembered: then after a day idle and three days in all.
func shortSessions(c *session.Config) {
	c.IdleTimeout, c.TouchInterval, c.Lifetime = time.Hour, 0, 3*time.Hour
	c.RememberMe = session.Timeouts{Idle: day, Lifetime: 3 * day}
}

// login renews the session of token and remembers it, as a login handler
// does when "remember me" is ticked.
func login(t *testing.T, e *env, token string) session.Outcome {
	t.Helper()
	o := e.request(t, token, func(s *session.Session) {
		must(t, s.Renew())
		must(t, s.Set("user", "alice"))
		must(t, s.RememberMe())
	})
	if o.Action != session.CookieSet || o.Token == token {
		t.Fatalf("login: outcome %+v; want a cookie with a new token", o)
	}
	return o
}

// alive reports whether token still names the session, by reading it.
func alive(t *testing.T, e *env, token string) bool {
	t.Helper()
	return get[string](t, e, token, "user") == "alice"
}

func TestRememberMeOutlivesTheDefaults(t *testing.T) {
	forEachLoadPath(t, func(t *testing.T, loads func(*session.Config)) {
		e := newEnv(t, shortSessions, loads)
		token := e.create(t, "cart", 3)
		e.clock.Advance(30 * time.Minute)
		o := login(t, e, token)
		if o.MaxAge != day || o.Life != session.CookieLifeMaxAge {
			t.Fatalf("login cookie: Max-Age %v, life %v; want the remembered idle timeout, %v, with Max-Age", o.MaxAge, o.Life, day)
		}
		token = o.Token
		// Active every 10 hours, far past the Manager's idle timeout and
		// lifetime; each request slides the session by a day.
		for range 4 {
			e.clock.Advance(10 * time.Hour)
			o := e.request(t, token, func(s *session.Session) { session.Get[string](s, "user") })
			if o.Action != session.CookieSet || o.MaxAge != day {
				t.Fatalf("a request 10 hours on: outcome %+v; want the cookie slid to a day", o)
			}
		}
		if !alive(t, e, token) {
			t.Fatal("a remembered session ended within its own idle timeout and lifetime")
		}
		// 50.5 hours old: the lifetime of three days from creation ends it,
		// however active, and the cookie says so.
		e.clock.Advance(10 * time.Hour)
		o = e.request(t, token, func(s *session.Session) { must(t, s.Set("n", 1)) })
		if left := 3*day - 50*time.Hour - 30*time.Minute; o.MaxAge != left {
			t.Fatalf("cookie near the end of the lifetime: Max-Age %v; want %v, what is left of 3 days", o.MaxAge, left)
		}
		e.clock.Advance(o.MaxAge)
		if alive(t, e, token) {
			t.Fatal("a remembered session outlived its own lifetime")
		}
	})
}

func TestRememberedIdleTimeoutEnds(t *testing.T) {
	e := newEnv(t, shortSessions)
	token := login(t, e, e.create(t, "cart", 3)).Token
	e.clock.Advance(day - time.Millisecond)
	if !alive(t, e, token) {
		t.Fatal("the session ended before its own idle timeout")
	}
	e.clock.Advance(day)
	if alive(t, e, token) {
		t.Fatal("the session outlived its own idle timeout, a day after its last request")
	}
}

// A read-only request writes only when the session's own TouchInterval
// has passed: a tenth of its day, not of the Manager's hour.
func TestRememberedSessionTouchesByItsOwnInterval(t *testing.T) {
	e := newEnv(t, shortSessions)
	token := login(t, e, e.create(t, "cart", 3)).Token
	saves := e.spy.saves.Load()
	e.clock.Advance(2 * time.Hour)
	if o := e.request(t, token, func(s *session.Session) { session.Get[string](s, "user") }); o.Action != session.CookieKeep {
		t.Fatalf("a read 2 hours on: outcome %+v; want nothing sent", o)
	}
	if n := e.spy.saves.Load() - saves; n != 0 {
		t.Fatalf("a read within the session's TouchInterval (2.4h) saved %d times; want 0", n)
	}
	e.clock.Advance(time.Hour)
	alive(t, e, token)
	if n := e.spy.saves.Load() - saves; n != 1 {
		t.Fatalf("a read past the session's TouchInterval saved %d times; want 1 touch", n)
	}
}

func TestTimeoutsSurviveRenewAndClear(t *testing.T) {
	e := newEnv(t, shortSessions)
	token := login(t, e, e.create(t, "cart", 3)).Token
	want := session.Timeouts{Idle: day, Lifetime: 3 * day}
	for name, change := range map[string]func(*session.Session) error{
		"Renew": (*session.Session).Renew,
		"Clear": (*session.Session).Clear,
	} {
		e.clock.Advance(3 * time.Hour) // past the session's TouchInterval: a cookie is due
		o := e.request(t, token, func(s *session.Session) { must(t, change(s)) })
		if o.Action != session.CookieSet || o.MaxAge != day {
			t.Fatalf("%s: outcome %+v; want the cookie with the remembered Max-Age", name, o)
		}
		token = o.Token
		e.request(t, token, func(s *session.Session) {
			got, err := s.Timeouts()
			must(t, err)
			if got != want {
				t.Fatalf("after %s: Timeouts %+v; want %+v", name, got, want)
			}
			if keys, _ := s.Keys(); len(keys) != 0 && name == "Clear" {
				t.Fatalf("after Clear: Keys %q; want none (the timeouts are not a value)", keys)
			}
		})
	}
}

func TestSessionCookie(t *testing.T) {
	e := newEnv(t, shortSessions)
	token := e.create(t, "user", "alice")
	o := e.request(t, token, func(s *session.Session) { must(t, s.SetTimeouts(session.Timeouts{SessionCookie: true})) })
	if o.Life != session.CookieLifeBrowser || o.Action != session.CookieSet {
		t.Fatalf("outcome %+v; want a browser-session cookie sent", o)
	}
	if h := e.m.CookieHeader(o, nil); strings.Contains(h, "Max-Age") {
		t.Fatalf("Set-Cookie %q; want no Max-Age", h)
	}
	e.clock.Advance(40 * time.Minute)
	if o := e.request(t, token, func(s *session.Session) { must(t, s.Set("n", 1)) }); o.Life != session.CookieLifeBrowser && o.Action == session.CookieSet {
		t.Fatalf("a later request: outcome %+v; want the cookie still without Max-Age", o)
	}
	e.clock.Advance(time.Hour) // the Manager's idle timeout still applies
	if alive(t, e, token) {
		t.Fatal("a session with a browser-session cookie outlived the server's idle timeout")
	}
}

// Remember me in an app whose cookies are browser-session ones: the
// remembered session's cookie has a Max-Age.
func TestRememberMeUnderSessionOnlyCookies(t *testing.T) {
	e := newEnv(t, shortSessions, func(c *session.Config) { c.Cookie.SessionOnly = true })
	token := e.create(t, "cart", 3)
	e.clock.Advance(10 * time.Minute) // past the TouchInterval: a cookie is due
	o := e.request(t, token, func(s *session.Session) { must(t, s.Set("n", 1)) })
	if o.Action != session.CookieSet || strings.Contains(e.m.CookieHeader(o, nil), "Max-Age") {
		t.Fatalf("without timeouts of its own: %q; want a browser-session cookie (Cookie.SessionOnly)", e.m.CookieHeader(o, nil))
	}
	o = login(t, e, token)
	if o.Life != session.CookieLifeMaxAge || !strings.Contains(e.m.CookieHeader(o, nil), "; Max-Age=86400;") {
		t.Fatalf("remembered: %q; want Max-Age=86400", e.m.CookieHeader(o, nil))
	}
	token = o.Token
	o = e.request(t, token, func(s *session.Session) { must(t, s.SetTimeouts(session.Timeouts{})) })
	if o.Action != session.CookieSet || o.Token != token || strings.Contains(e.m.CookieHeader(o, nil), "Max-Age") {
		t.Fatalf("back to the Manager's timeouts: outcome %+v; want a browser-session cookie again", o)
	}
}

// Timeouts{} returns a session to the Manager's idle timeout.
func TestZeroTimeoutsReturnToTheManagers(t *testing.T) {
	e := newEnv(t, shortSessions)
	token := login(t, e, e.create(t, "cart", 3)).Token
	o := e.request(t, token, func(s *session.Session) { must(t, s.SetTimeouts(session.Timeouts{})) })
	if o.MaxAge != time.Hour {
		t.Fatalf("outcome %+v; want the Manager's hour", o)
	}
	e.clock.Advance(time.Hour)
	if alive(t, e, token) {
		t.Fatal("the session outlived the Manager's idle timeout after Timeouts{}")
	}
}

func TestTimeoutsValidate(t *testing.T) {
	e := newEnv(t)
	token := e.create(t, "n", 1)
	e.request(t, token, func(s *session.Session) {
		err := s.SetTimeouts(session.Timeouts{Idle: -time.Second, Lifetime: -time.Second})
		var fe *session.FieldError
		if !errors.Is(err, session.ErrInvalidConfig) || !errors.As(err, &fe) || fe.Field != "Timeouts.Idle" ||
			!strings.Contains(err.Error(), "Timeouts.Lifetime") {
			t.Fatalf("SetTimeouts with negative timeouts: %v; want FieldErrors naming Idle and Lifetime", err)
		}
	})
	cfg := session.DefaultConfig(e.spy)
	cfg.RememberMe.Lifetime = -day
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "RememberMe.Lifetime") {
		t.Fatalf("Config.Validate with a negative RememberMe.Lifetime: %v; want it named", err)
	}
	if got := e.m.Config().RememberMe; got != session.DefaultRememberMe {
		t.Fatalf("default RememberMe %+v; want %+v", got, session.DefaultRememberMe)
	}
}

// A key of the reserved space cannot be written or deleted by hand.
func TestTimeoutsKeyIsReserved(t *testing.T) {
	e := newEnv(t)
	token := e.create(t, "n", 1)
	e.request(t, token, func(s *session.Session) {
		for _, err := range []error{s.Set("\x00timeouts", 1), s.Delete("\x00timeouts")} {
			if !errors.Is(err, session.ErrInvalidKey) {
				t.Errorf("the timeouts' key: %v; want ErrInvalidKey", err)
			}
		}
	})
}
