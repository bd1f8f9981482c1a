package session_test

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessionmesh/sessionmesh/internal/testutil"
	"github.com/sessionmesh/sessionmesh/session"
	"github.com/sessionmesh/sessionmesh/stores/memory"
)

// events records what a Manager's OnEvent hook is called with.
type events struct {
	mu  sync.Mutex // guards got
	got []session.Event
}

func (e *events) add(ev session.Event) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.got = append(e.got, ev)
}

// take returns the events so far and forgets them.
func (e *events) take() []session.Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	got := e.got
	e.got = nil
	return got
}

// expect fails unless got is exactly one event of kind for principal
// whose IDHash is that of id.
func expect(t *testing.T, got []session.Event, kind session.EventKind, principal, id string, at time.Time) session.Event {
	t.Helper()
	if len(got) != 1 {
		t.Fatalf("events = %+v; want one %v", got, kind)
	}
	e := got[0]
	if e.Kind != kind || e.Principal != principal || e.IDHash != session.IDHash(id) || !e.At.Equal(at) {
		t.Fatalf("event = %+v; want %v of %q, IDHash %s, at %v", e, kind, principal, session.IDHash(id), at)
	}
	return e
}

// A session's life as an audit log sees it: created, renewed at login
// with the principal (and the ID hash it had), destroyed at logout; reads,
// patches and touches are no events, and no event carries the ID.
func TestEventsOfRequests(t *testing.T) {
	var ev events
	e := newEnv(t, func(c *session.Config) { c.OnEvent = ev.add })
	anon := e.create(t, "cart", 1)
	expect(t, ev.take(), session.EventCreated, "", anon, e.clock.Now())

	e.clock.Advance(time.Minute)
	o := e.request(t, anon, func(s *session.Session) {
		must(t, s.SetPrincipal("alice"))
		must(t, s.Renew())
	})
	login := expect(t, ev.take(), session.EventRenewed, "alice", o.Token, e.clock.Now())
	if login.PreviousIDHash != session.IDHash(anon) {
		t.Fatalf("renewed event's PreviousIDHash = %s; want the old ID's %s", login.PreviousIDHash, session.IDHash(anon))
	}
	user := o.Token

	e.request(t, user, func(s *session.Session) { must(t, s.Set("cart", 2)) })
	e.clock.Advance(3 * 24 * time.Hour) // past TouchInterval: a touch
	e.request(t, user, func(s *session.Session) { _, _ = session.Get[int](s, "cart") })
	if got := ev.take(); len(got) != 0 {
		t.Fatalf("a patch and a touch gave events %+v; want none", got)
	}

	e.request(t, user, func(s *session.Session) { must(t, s.Destroy()) })
	expect(t, ev.take(), session.EventDestroyed, "alice", user, e.clock.Now())
	if strings.Contains(login.IDHash+login.PreviousIDHash, anon) || strings.Contains(login.IDHash, user) {
		t.Fatal("an event carries a session ID")
	}
}

// A new session saved with its principal in one request is created with
// it; a request that only drops the principal is no event.
func TestCreatedWithPrincipal(t *testing.T) {
	var ev events
	e := newEnv(t, func(c *session.Config) { c.OnEvent = ev.add })
	o := e.request(t, "", func(s *session.Session) { must(t, s.SetPrincipal("bob")) })
	expect(t, ev.take(), session.EventCreated, "bob", o.Token, e.clock.Now())
	e.request(t, o.Token, func(s *session.Session) { must(t, s.SetPrincipal("")) })
	if got := ev.take(); len(got) != 0 {
		t.Fatalf("dropping the principal gave events %+v; want none", got)
	}
}

// A save the store refused, and a patch to a session another request
// destroyed meanwhile, happened to nobody: no event.
func TestNoEventWithoutAWrite(t *testing.T) {
	var ev events
	e := newEnv(t, func(c *session.Config) { c.OnEvent = ev.add })
	e.spy.failSave.Store(true)
	s := e.m.Start(context.Background())
	must(t, s.Set("k", 1))
	if _, err := e.m.Commit(s); err == nil {
		t.Fatal("Commit succeeded with the store down")
	}
	e.spy.failSave.Store(false)
	token := e.create(t, "k", 1)
	ev.take()

	late := e.m.Start(context.Background(), token)
	must(t, late.Renew())
	e.request(t, token, func(s *session.Session) { must(t, s.Destroy()) })
	ev.take()
	if _, err := e.m.Commit(late); err != nil {
		t.Fatal(err)
	}
	if got := ev.take(); len(got) != 0 {
		t.Fatalf("a failed save and a renew of a destroyed session gave events %+v; want none", got)
	}
}

// A hook that panics loses its event, and nothing else: the request's
// commit succeeds and the panic is logged.
func TestPanickingHookIsContained(t *testing.T) {
	e := newEnv(t, func(c *session.Config) { c.OnEvent = func(session.Event) { panic("audit log down") } })
	e.create(t, "k", 1) // fails the test unless the commit sets the cookie
	if logs := e.logs.String(); !strings.Contains(logs, "OnEvent hook panicked") || !strings.Contains(logs, "audit log down") {
		t.Fatalf("logs = %q; want the hook's panic", logs)
	}
}

// wrapped is a store wrapper that says what it wraps, as
// metrics.InstrumentStore's does.
type wrapped struct{ session.Store }

func (w wrapped) Unwrap() session.Store { return w.Store }

// memoryEnv is a Manager with an OnEvent hook over a memory store,
// wrapped by a wrapper with an Unwrap method (newEnv's spy has none and
// hides the store's EventSource).
func memoryEnv(t *testing.T, mcfg memory.Config) (*env, *events) {
	t.Helper()
	ev := &events{}
	e := &env{clock: newClock(), logs: &testutil.Buffer{}}
	mcfg.Now = e.clock.Now
	st, err := memory.New(mcfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	cfg := session.DefaultConfig(wrapped{st})
	cfg.Now, cfg.OnEvent = e.clock.Now, ev.add
	cfg.Logger = slog.New(slog.NewTextHandler(e.logs, nil))
	if e.m, err = session.NewManager(cfg); err != nil {
		t.Fatal(err)
	}
	return e, ev
}

// The memory store's sweeper reports a session that idled out, with its
// principal, at its deadline.
func TestExpiredEventFromTheSweeper(t *testing.T) {
	e, ev := memoryEnv(t, memory.Config{SweepInterval: time.Millisecond})
	o := e.request(t, "", func(s *session.Session) { must(t, s.SetPrincipal("carol")) })
	ev.take()
	deadline := e.clock.Now().Add(e.m.Config().IdleTimeout)
	e.clock.Advance(e.m.Config().IdleTimeout)
	var got []session.Event
	testutil.Eventually(t, 10*time.Second, "the sweeper to report the expired session", func() bool {
		got = append(got, ev.take()...)
		return len(got) > 0
	})
	expect(t, got, session.EventExpired, "carol", o.Token, deadline)
}

// At MaxSessions the memory store evicts a session never used after its
// first request, and says so with its principal.
func TestEvictedEvent(t *testing.T) {
	e, ev := memoryEnv(t, memory.Config{Shards: 1, MaxSessions: 1})
	o := e.request(t, "", func(s *session.Session) { must(t, s.SetPrincipal("dave")) })
	ev.take()
	e.clock.Advance(time.Second)
	newer := e.create(t, "k", 1)
	got := ev.take()
	if len(got) != 2 {
		t.Fatalf("events = %+v; want dave's session evicted, then the new one created", got)
	}
	expect(t, got[:1], session.EventEvicted, "dave", o.Token, e.clock.Now())
	expect(t, got[1:], session.EventCreated, "", newer, e.clock.Now())
}
