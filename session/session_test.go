package session_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessionmesh/sessionmesh/session"
)

// forEachLoadPath runs f over a store that loads records in binary form
// (the memory store) and over one that loads them as a Record with a map.
func forEachLoadPath(t *testing.T, f func(t *testing.T, loads func(*session.Config))) {
	t.Run("binary", func(t *testing.T) { f(t, func(*session.Config) {}) })
	t.Run("map", func(t *testing.T) { f(t, mapLoads) })
}

type cart struct {
	Items []string       `json:"items"`
	Total float64        `json:"total"`
	Meta  map[string]int `json:"meta"`
}

func TestValuesSurviveARequest(t *testing.T) {
	forEachLoadPath(t, func(t *testing.T, loads func(*session.Config)) {
		e := newEnv(t, loads)
		when := time.Date(2029, 5, 6, 7, 8, 9, 0, time.UTC)
		c := cart{Items: []string{"a", "b"}, Total: 9.5, Meta: map[string]int{"x": 1}}
		token := e.create(t, "n", 42)
		e.request(t, token, func(s *session.Session) {
			must(t, s.Set("s", "héllo"))
			must(t, s.Set("f", 2.5))
			must(t, s.Set("b", true))
			must(t, s.Set("t", when))
			must(t, s.Set("cart", c))
		})
		if got := get[int](t, e, token, "n"); got != 42 {
			t.Errorf("int: %d", got)
		}
		if got := get[string](t, e, token, "s"); got != "héllo" {
			t.Errorf("string: %q", got)
		}
		if got := get[float64](t, e, token, "f"); got != 2.5 {
			t.Errorf("float: %v", got)
		}
		if got := get[bool](t, e, token, "b"); !got {
			t.Errorf("bool: %v", got)
		}
		if got := get[time.Time](t, e, token, "t"); !got.Equal(when) {
			t.Errorf("time: %v", got)
		}
		if got := get[cart](t, e, token, "cart"); !reflect.DeepEqual(got, c) {
			t.Errorf("struct: %+v", got)
		}
	})
}

func TestMissingKeyIsZeroAndNil(t *testing.T) {
	e := newEnv(t)
	e.request(t, "", func(s *session.Session) {
		n, err := session.Get[int](s, "nope")
		has, herr := s.Has("nope")
		if n != 0 || err != nil || has || herr != nil {
			t.Fatalf("missing key: %d, %v, has=%v, %v; want 0, nil, false, nil", n, err, has, herr)
		}
	})
}

// TestUndecodableValueBreaksOnlyItsKey: a value stored as one type and read
// as another fails for that key; the session and its other keys work.
func TestUndecodableValueBreaksOnlyItsKey(t *testing.T) {
	forEachLoadPath(t, func(t *testing.T, loads func(*session.Config)) {
		e := newEnv(t, loads)
		token := e.create(t, "counter", "not a number")
		e.request(t, token, func(s *session.Session) {
			must(t, s.Set("other", 1))
		})
		e.request(t, token, func(s *session.Session) {
			_, err := session.Get[int](s, "counter")
			if err == nil || !strings.Contains(err.Error(), `"counter"`) {
				t.Errorf("Get[int] of a string: err = %v, want a decode error naming the key", err)
			}
			if n, err := session.Get[int](s, "other"); n != 1 || err != nil {
				t.Errorf("other key: %d, %v; want 1, nil", n, err)
			}
			must(t, s.Set("counter", 0)) // the user can repair it
		})
		if got := get[int](t, e, token, "counter"); got != 0 {
			t.Errorf("repaired counter = %d", got)
		}
	})
}

func TestSetReportsEncodingErrorsAtOnce(t *testing.T) {
	e := newEnv(t)
	o := e.request(t, "", func(s *session.Session) {
		err := s.Set("ch", make(chan int))
		if err == nil || !strings.Contains(err.Error(), `"ch"`) {
			t.Errorf("Set(chan): err = %v, want an encoding error naming the key", err)
		}
		if has, _ := s.Has("ch"); has {
			t.Error("a value that failed to encode was kept")
		}
	})
	if o.Action != session.CookieKeep {
		t.Errorf("a request whose only Set failed created a session: %+v", o)
	}
}

func TestSetRefusesBadKeys(t *testing.T) {
	e := newEnv(t)
	e.request(t, "", func(s *session.Session) {
		for _, key := range []string{"", strings.Repeat("k", session.MaxKeyLen+1)} {
			if err := s.Set(key, 1); !errors.Is(err, session.ErrInvalidKey) {
				t.Errorf("Set(key of %d bytes): err = %v, want ErrInvalidKey", len(key), err)
			}
		}
		must(t, s.Set(strings.Repeat("k", session.MaxKeyLen), 1))
	})
}

func TestDeleteClearAndKeys(t *testing.T) {
	forEachLoadPath(t, func(t *testing.T, loads func(*session.Config)) {
		e := newEnv(t, loads)
		token := e.create(t, "a", 1)
		e.request(t, token, func(s *session.Session) {
			must(t, s.Set("c", 3))
			must(t, s.Set("b", 2))
			assertKeys(t, s, "a", "b", "c")
			must(t, s.Delete("a"))
			assertKeys(t, s, "b", "c")
		})
		e.request(t, token, func(s *session.Session) {
			assertKeys(t, s, "b", "c")
			must(t, s.Clear())
			assertKeys(t, s)
			must(t, s.Set("z", 26))
			assertKeys(t, s, "z")
		})
		e.request(t, token, func(s *session.Session) { assertKeys(t, s, "z") })
	})
}

func assertKeys(t *testing.T, s *session.Session, want ...string) {
	t.Helper()
	got, err := s.Keys()
	if err != nil || len(got) != len(want) || len(want) > 0 && !reflect.DeepEqual(got, want) {
		t.Fatalf("Keys() = %q, %v; want %q", got, err, want)
	}
}

func TestNilSessionErrorsInsteadOfPanicking(t *testing.T) {
	s := session.FromContext(context.Background())
	if s != nil {
		t.Fatal("FromContext of a bare context returned a session")
	}
	_, getErr := session.Get[int](s, "k")
	_, hasErr := s.Has("k")
	_, keysErr := s.Keys()
	for name, err := range map[string]error{
		"Get": getErr, "Has": hasErr, "Keys": keysErr, "Set": s.Set("k", 1), "Delete": s.Delete("k"),
		"Clear": s.Clear(), "Renew": s.Renew(), "Destroy": s.Destroy(), "Err": s.Err(),
	} {
		if !errors.Is(err, session.ErrNoSession) {
			t.Errorf("%s on a nil session: err = %v, want ErrNoSession", name, err)
		}
	}
	if s.ID() != "" || s.Loaded() {
		t.Error("a nil session has an ID or claims to be loaded")
	}
}

func TestContextCarriesTheSession(t *testing.T) {
	e := newEnv(t)
	s := e.m.Start(context.Background(), "")
	if got := session.FromContext(session.NewContext(context.Background(), s)); got != s {
		t.Fatal("FromContext(NewContext(s)) is not s")
	}
}

func TestNewSessionIDIsStable(t *testing.T) {
	e := newEnv(t)
	var id string
	o := e.request(t, "", func(s *session.Session) {
		id = s.ID()
		if !session.ValidID(id) || s.ID() != id {
			t.Fatalf("ID() = %q, then %q: want one valid ID", id, s.ID())
		}
		must(t, s.Set("k", 1))
	})
	if o.Token != id {
		t.Fatalf("saved under %q, but ID() said %q", o.Token, id)
	}
}

func TestRenew(t *testing.T) {
	e := newEnv(t)
	old := e.create(t, "counter", 5)
	var renewedID string
	o := e.request(t, old, func(s *session.Session) {
		must(t, s.Renew())
		renewedID = s.ID()
		must(t, s.Set("user", "alice"))
	})
	if o.Action != session.CookieSet || o.Token == old || o.Token != renewedID {
		t.Fatalf("Renew: outcome %+v (ID() said %q), want CookieSet with a new token", o, renewedID)
	}
	if get[int](t, e, o.Token, "counter") != 5 || get[string](t, e, o.Token, "user") != "alice" {
		t.Error("the renewed session lost its data")
	}
	if _, found, _ := e.spy.Store.Load(context.Background(), old); found {
		t.Error("the old ID still loads after Renew")
	}
}

func TestDestroy(t *testing.T) {
	e := newEnv(t)
	token := e.create(t, "counter", 5)
	o := e.request(t, token, func(s *session.Session) {
		must(t, s.Destroy())
		if err := s.Set("k", 1); !errors.Is(err, session.ErrDestroyed) {
			t.Errorf("Set after Destroy: err = %v, want ErrDestroyed", err)
		}
		if n, _ := session.Get[int](s, "counter"); n != 0 {
			t.Errorf("Get after Destroy = %d, want 0", n)
		}
	})
	if o.Action != session.CookieExpire {
		t.Fatalf("Destroy outcome %+v, want CookieExpire", o)
	}
	if _, found, _ := e.spy.Store.Load(context.Background(), token); found {
		t.Error("the destroyed session still loads")
	}
}

func TestDestroyOfANewSessionStoresNothing(t *testing.T) {
	e := newEnv(t)
	o := e.request(t, "", func(s *session.Session) {
		must(t, s.Set("k", 1))
		must(t, s.Destroy())
	})
	if o.Action != session.CookieKeep || e.spy.saves.Load() != 0 {
		t.Fatalf("outcome %+v with %d saves, want nothing sent or stored", o, e.spy.saves.Load())
	}
}

// TestConcurrentUseWithinARequest: a handler may fan out; the goroutines'
// changes all land in one patch.
func TestConcurrentUseWithinARequest(t *testing.T) {
	e := newEnv(t)
	o := e.request(t, "", func(s *session.Session) {
		var wg sync.WaitGroup
		for i := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				key := fmt.Sprint("k", i)
				must(t, s.Set(key, i))
				session.Get[int](s, key)
				s.Keys()
			}()
		}
		wg.Wait()
	})
	e.request(t, o.Token, func(s *session.Session) {
		assertKeys(t, s, "k0", "k1", "k2", "k3", "k4", "k5", "k6", "k7")
	})
}

// A store that offers LoadBinary is read through it, and a record it hands
// back corrupt is an error for the request, not a panic or an empty session.
func TestBinaryLoads(t *testing.T) {
	e := newEnv(t)
	token := e.create(t, "n", 1)
	if get[int](t, e, token, "n") != 1 || e.spy.binaryLoads.Load() != e.spy.loads.Load() || e.spy.loads.Load() == 0 {
		t.Fatalf("%d loads, %d through LoadBinary; want all of them", e.spy.loads.Load(), e.spy.binaryLoads.Load())
	}
	m := newEnv(t, mapLoads)
	token = m.create(t, "n", 1)
	if get[int](t, m, token, "n") != 1 || m.spy.binaryLoads.Load() != 0 {
		t.Fatalf("%d loads through LoadBinary of a store without it", m.spy.binaryLoads.Load())
	}
	rec := session.Record{Values: map[string][]byte{"a": []byte("1"), "b": []byte("2")}}
	good := rec.AppendBinary(nil)
	for name, data := range map[string][]byte{
		"truncated":    good[:len(good)-1],
		"trailing":     append(append([]byte{}, good...), 0),
		"out of order": append(good[:len(good)-8:len(good)-8], append(append([]byte{}, good[len(good)-4:]...), good[len(good)-8:len(good)-4]...)...),
		"no header":    {9},
	} {
		c := newEnv(t, func(c *session.Config) { c.Store = corrupt{c.Store, data} })
		s := c.m.Start(context.Background(), session.NewID())
		if _, err := session.Get[int](s, "a"); err == nil {
			t.Errorf("%s: Get of a corrupt record: nil error", name)
		}
		if _, err := c.m.Commit(s); err == nil {
			t.Errorf("%s: Commit after a failed load: nil error", name)
		}
	}
}

// corrupt is a store whose LoadBinary finds every token and returns data.
type corrupt struct {
	session.Store
	data []byte
}

func (c corrupt) LoadBinary(context.Context, string) ([]byte, bool, error) { return c.data, true, nil }

func TestEachManagerFindsItsOwnSession(t *testing.T) {
	user := newEnv(t)
	admin := newEnv(t, func(c *session.Config) { c.CookieName = "admin" })
	us := user.m.Start(t.Context(), "")
	ctx := session.NewContext(t.Context(), us)
	as := admin.m.Start(ctx, "")
	ctx = session.NewContext(ctx, as)
	if got := user.m.FromContext(ctx); got != us {
		t.Error("the user Manager did not find its session under the admin one")
	}
	if got := admin.m.FromContext(ctx); got != as {
		t.Error("the admin Manager did not find its session")
	}
	if got := session.FromContext(ctx); got != as {
		t.Error("FromContext is not the innermost session")
	}
	other := newEnv(t, func(c *session.Config) { c.CookieName = "other" })
	if got := other.m.FromContext(ctx); got != nil {
		t.Error("a Manager with no session in ctx found one")
	}
}

func TestTwoManagersCannotShareACookie(t *testing.T) {
	a, b := newEnv(t), newEnv(t) // both "sid"
	ctx := session.NewContext(t.Context(), a.m.Start(t.Context(), ""))
	s := b.m.Start(ctx, "")
	if err := s.Set("k", 1); !errors.Is(err, session.ErrInvalidConfig) || !strings.Contains(err.Error(), `"sid"`) {
		t.Fatalf("Set on the second Manager of cookie sid = %v; want ErrInvalidConfig naming the cookie", err)
	}
	if _, err := b.m.Commit(s); !errors.Is(err, session.ErrInvalidConfig) {
		t.Fatalf("Commit = %v; want ErrInvalidConfig (the middleware answers 503 and logs it)", err)
	}
}

// Contexts made by NewContext in any order, even a session put in twice
// around another, form no loop: each lookup ends, and each Manager finds
// its own innermost session.
func TestNewContextChainsCannotLoop(t *testing.T) {
	a := newEnv(t)
	b := newEnv(t, func(c *session.Config) { c.CookieName = "b" })
	c := newEnv(t, func(c *session.Config) { c.CookieName = "c" })
	sa, sb := a.m.Start(t.Context(), ""), b.m.Start(t.Context(), "")
	ctxA := session.NewContext(t.Context(), sa)
	ctxAB := session.NewContext(ctxA, sb)
	ctxABA := session.NewContext(ctxAB, sa)
	ctxB := session.NewContext(t.Context(), sb)
	ctxBA := session.NewContext(ctxB, sa)
	for _, ctx := range []context.Context{ctxAB, ctxABA, ctxBA} {
		if c.m.FromContext(ctx) != nil {
			t.Fatal("a Manager with no session in ctx found one")
		}
		if a.m.FromContext(ctx) != sa || b.m.FromContext(ctx) != sb {
			t.Fatal("a Manager did not find its own session")
		}
		c.m.Start(ctx, "") // walks the chain too
	}
	if session.FromContext(session.NewContext(t.Context(), nil)) != nil || a.m.FromContext(session.NewContext(ctxA, nil)) != sa {
		t.Fatal("a nil session in the chain")
	}
}
