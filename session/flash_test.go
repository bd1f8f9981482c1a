package session_test

import (
	"errors"
	"testing"

	"github.com/sessionmesh/sessionmesh/session"
)

// popFlash pops key as a T in a request of token and returns it with ok.
func popFlash[T any](t *testing.T, e *env, token, key string) (T, bool) {
	t.Helper()
	var (
		v  T
		ok bool
	)
	e.request(t, token, func(s *session.Session) {
		var err error
		v, ok, err = session.PopFlash[T](s, key)
		must(t, err)
	})
	return v, ok
}

func TestFlashIsShownOnce(t *testing.T) {
	forEachLoadPath(t, func(t *testing.T, loads func(*session.Config)) {
		e := newEnv(t, loads)
		token := e.create(t, "user", "alice")
		e.request(t, token, func(s *session.Session) { must(t, s.Flash("notice", "saved")) })
		if got, ok := popFlash[string](t, e, token, "notice"); !ok || got != "saved" {
			t.Fatalf("first PopFlash = %q, %v; want saved, true", got, ok)
		}
		if got, ok := popFlash[string](t, e, token, "notice"); ok || got != "" {
			t.Fatalf("second PopFlash = %q, %v; want nothing: a flash is shown once", got, ok)
		}
		if got := get[string](t, e, token, "user"); got != "alice" {
			t.Fatalf("the session's values after the flash: user = %q; want alice", got)
		}
	})
}

func TestFlashKeepsToItsOwnKeys(t *testing.T) {
	e := newEnv(t)
	token := e.create(t, "notice", "a value")
	e.request(t, token, func(s *session.Session) {
		must(t, s.Flash("notice", []string{"one", "two"}))
		keys, err := s.Keys()
		must(t, err)
		if len(keys) != 1 || keys[0] != "notice" {
			t.Errorf("Keys with a flash pending = %q; want only the value [notice]", keys)
		}
	})
	if got := get[string](t, e, token, "notice"); got != "a value" {
		t.Fatalf("value notice = %q after a flash of the same name; want it untouched", got)
	}
	got, ok := popFlash[[]string](t, e, token, "notice")
	if !ok || len(got) != 2 || got[1] != "two" {
		t.Fatalf("PopFlash = %q, %v; want [one two], true", got, ok)
	}
	// The reserved space cannot be reached through Set or Delete.
	e.request(t, token, func(s *session.Session) {
		for _, err := range []error{s.Set("\x00flash\x00notice", 1), s.Delete("\x00flash\x00notice")} {
			if !errors.Is(err, session.ErrInvalidKey) {
				t.Errorf("a key in the flashes' space: %v; want ErrInvalidKey", err)
			}
		}
	})
}

func TestPopFlashWithoutAFlashWritesNothing(t *testing.T) {
	e := newEnv(t)
	token := e.create(t, "n", 1)
	saves := e.spy.saves.Load()
	if _, ok := popFlash[string](t, e, token, "notice"); ok {
		t.Fatal("PopFlash found a flash nobody set")
	}
	if got := e.spy.saves.Load() - saves; got != 0 {
		t.Fatalf("a request that popped no flash saved %d times; want 0 (every page pops, most find none)", got)
	}
}

func TestFlashSurvivesRenew(t *testing.T) {
	e := newEnv(t)
	token := e.create(t, "n", 1)
	o := e.request(t, token, func(s *session.Session) {
		must(t, s.Flash("notice", "welcome"))
		must(t, s.Renew())
	})
	if got, ok := popFlash[string](t, e, o.Token, "notice"); !ok || got != "welcome" {
		t.Fatalf("PopFlash after login's Renew = %q, %v; want welcome, true", got, ok)
	}
}

func TestPopFlashAfterCommitLeavesIt(t *testing.T) {
	e := newEnv(t)
	token := e.create(t, "n", 1)
	e.request(t, token, func(s *session.Session) { must(t, s.Flash("notice", "saved")) })
	s := e.m.Start(t.Context(), token)
	if _, err := e.m.Commit(s); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := session.PopFlash[string](s, "notice"); ok || !errors.Is(err, session.ErrCommitted) {
		t.Fatalf("PopFlash after commit = %v, %v; want ErrCommitted and no flash", ok, err)
	}
	if _, ok := popFlash[string](t, e, token, "notice"); !ok {
		t.Fatal("a flash popped too late (never saved) was lost; want it for the next request")
	}
}

func TestPopFlashOfTheWrongTypeConsumesIt(t *testing.T) {
	e := newEnv(t)
	token := e.create(t, "n", 1)
	e.request(t, token, func(s *session.Session) { must(t, s.Flash("notice", "text")) })
	e.request(t, token, func(s *session.Session) {
		if _, ok, err := session.PopFlash[int](s, "notice"); ok || err == nil {
			t.Errorf("PopFlash[int] of a string = %v, %v; want an error", ok, err)
		}
	})
	if _, ok := popFlash[string](t, e, token, "notice"); ok {
		t.Fatal("an undecodable flash came back; want it consumed with the error")
	}
}

func TestFlashBadKeys(t *testing.T) {
	e := newEnv(t)
	s := e.m.Start(t.Context())
	long := string(make([]byte, session.MaxKeyLen))
	for _, key := range []string{"", long} {
		if err := s.Flash(key, 1); !errors.Is(err, session.ErrInvalidKey) {
			t.Errorf("Flash(%d bytes) = %v; want ErrInvalidKey", len(key), err)
		}
		if _, _, err := session.PopFlash[int](s, key); !errors.Is(err, session.ErrInvalidKey) {
			t.Errorf("PopFlash(%d bytes) = %v; want ErrInvalidKey", len(key), err)
		}
	}
	var nilSession *session.Session
	if err := nilSession.Flash("k", 1); !errors.Is(err, session.ErrNoSession) {
		t.Errorf("Flash on nil = %v; want ErrNoSession", err)
	}
}
