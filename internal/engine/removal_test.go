package engine

import (
	"sync"
	"testing"
	"time"

	"github.com/sessionmesh/sessionmesh/session"
)

// removals records what a Map's OnRemoval hook reports.
type removals struct {
	mu  sync.Mutex // guards got
	got []session.Removal
}

func (r *removals) add(x session.Removal) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, x)
}

func (r *removals) list() []session.Removal {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]session.Removal(nil), r.got...)
}

func watch(s *Map) *removals {
	r := &removals{}
	s.OnRemoval(r.add)
	return r
}

// The sweeper reports each expired session once, with its record and its
// deadline; a live session, and a session the caller removed, are not
// reported.
func TestSweepReportsExpired(t *testing.T) {
	clk := newClock()
	s := newStore(t, Config{Now: clk.Now})
	r := watch(s)
	start := clk.Now()
	gone := create(t, s, start, time.Minute, "gone")
	create(t, s, start, time.Hour, "kept")
	s.Remove(create(t, s, start, time.Minute, "removed"))
	clk.Advance(2 * time.Minute)
	s.Sweep()
	s.Sweep()
	got := r.list()
	if len(got) != 1 {
		t.Fatalf("two sweeps reported %d removals; want the 1 expired session: %+v", len(got), got)
	}
	x := got[0]
	if x.Kind != session.EventExpired || x.ID != gone || !x.At.Equal(start.Add(time.Minute)) {
		t.Fatalf("removal = %v %s at %v; want expired %s at its deadline %v", x.Kind, x.ID, x.At, gone, start.Add(time.Minute))
	}
	var rec session.Record
	if err := rec.UnmarshalBinary(x.Data); err != nil || string(rec.Values["k"]) != "gone" {
		t.Fatalf("removal's record = %+v, %v; want the expired session's", rec, err)
	}
}

// A read that finds a session expired removes and reports it too, and
// the sweeper does not report it again.
func TestReadReportsExpired(t *testing.T) {
	clk := newClock()
	s := newStore(t, Config{Now: clk.Now})
	r := watch(s)
	id := create(t, s, clk.Now(), time.Minute, "v")
	clk.Advance(time.Minute)
	if found(t, s, id) {
		t.Fatal("an expired session loaded")
	}
	s.Sweep()
	if got := r.list(); len(got) != 1 || got[0].ID != id || got[0].Kind != session.EventExpired {
		t.Fatalf("removals = %+v; want one expiry of %s", got, id)
	}
}

// Eviction at MaxSessions reports the evicted session as evicted, at the
// Map's clock; the hook runs outside the shard's lock, so it may use the
// Map.
func TestEvictionReportsEvicted(t *testing.T) {
	clk := newClock()
	s := newStore(t, Config{Shards: 1, MaxSessions: 1, Now: clk.Now})
	var got []session.Removal
	s.OnRemoval(func(x session.Removal) {
		got = append(got, x)
		s.Has(x.ID) // would deadlock under the shard's lock
	})
	first := create(t, s, clk.Now(), time.Hour, "v")
	clk.Advance(time.Second)
	create(t, s, clk.Now(), time.Hour, "v")
	if len(got) != 1 || got[0].Kind != session.EventEvicted || got[0].ID != first || !got[0].At.Equal(clk.Now()) {
		t.Fatalf("removals = %+v; want %s evicted at %v", got, first, clk.Now())
	}
	s.OnRemoval(nil)
	clk.Advance(time.Second)
	create(t, s, clk.Now(), time.Hour, "v")
	if len(got) != 1 {
		t.Fatalf("%d removals reported after OnRemoval(nil); want none", len(got)-1)
	}
}

// Without a hook, removing expired sessions allocates nothing for it.
func TestNoHookNoAllocation(t *testing.T) {
	clk := newClock()
	s := newStore(t, Config{Shards: 1, Now: clk.Now})
	expire := func() {
		create(t, s, clk.Now(), time.Minute, "v")
		clk.Advance(time.Minute)
	}
	base := testing.AllocsPerRun(20, expire)
	swept := testing.AllocsPerRun(20, func() { expire(); s.Sweep() })
	if swept != base {
		t.Fatalf("creating and sweeping a session allocates %.0f times, creating it %.0f: the sweep allocates without a hook", swept, base)
	}
}
