package engine

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/sessionmesh/sessionmesh/internal/testutil"
	"github.com/sessionmesh/sessionmesh/session"
	"github.com/sessionmesh/sessionmesh/stores/storetest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func newStore(t *testing.T, cfg Config) *Map {
	t.Helper()
	s, err := New(cfg)
	if err != nil {
		t.Fatalf("New(%+v): %v", cfg, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// newClock is a settable clock for the tests of this package, at a fixed
// date.
func newClock() *storetest.Clock {
	return storetest.NewClock(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
}

// create saves a new session with key "k" = v that idles out after idle.
func create(t *testing.T, s *Map, now time.Time, idle time.Duration, v string) string {
	t.Helper()
	id := session.NewID()
	p := session.Patch{NewID: id, Now: now, Idle: idle, Set: map[string][]byte{"k": []byte(v)}}
	if err := s.Create(p); err != nil {
		t.Fatalf("Create: %v", err)
	}
	return id
}

func found(t *testing.T, s *Map, id string) bool {
	t.Helper()
	_, ok := s.Get(id)
	return ok
}

// When full, the store evicts the session closest to its deadline and
// still accepts the new one.
func TestEvictsEarliestDeadline(t *testing.T) {
	clk := newClock()
	s := newStore(t, Config{Shards: 1, MaxSessions: evictionSample, Now: clk.Now})
	var ids []string
	for i := range evictionSample { // deadlines 50, 10, 20, 30, 40 minutes
		idle := time.Duration((i+evictionSample-1)%evictionSample+1) * 10 * time.Minute
		ids = append(ids, create(t, s, clk.Now(), idle, "v"))
	}
	newest := create(t, s, clk.Now(), time.Minute, "v") // the earliest deadline of all, but just written
	if found(t, s, ids[1]) {
		t.Fatal("the session with the earliest deadline (10m) survived the eviction")
	}
	for _, id := range append([]string{newest, ids[0]}, ids[2:]...) {
		if !found(t, s, id) {
			t.Fatal("a session other than the one closest to its deadline was evicted")
		}
	}
	if st := s.Stats(); st.Sessions != evictionSample || st.Evictions != 1 || st.Expired != 0 {
		t.Fatalf("Stats = %+v; want %d sessions, 1 eviction", st, evictionSample)
	}
}

// An expired session is the first to go, and it counts as expired, not
// as an eviction of a live session.
func TestEvictionPrefersExpired(t *testing.T) {
	clk := newClock()
	s := newStore(t, Config{Shards: 1, MaxSessions: 2, Now: clk.Now})
	create(t, s, clk.Now(), time.Hour, "v")
	create(t, s, clk.Now(), time.Minute, "v")
	clk.Advance(2 * time.Minute)
	create(t, s, clk.Now(), time.Hour, "v")
	if st := s.Stats(); st.Sessions != 2 || st.Evictions != 0 || st.Expired != 1 {
		t.Fatalf("Stats = %+v; want 2 sessions, 0 evictions, 1 expired", st)
	}
}

func TestStatsBytes(t *testing.T) {
	clk := newClock()
	s := newStore(t, Config{Now: clk.Now})
	id := create(t, s, clk.Now(), time.Hour, "1")
	rec, _ := s.Get(id)
	rec.ID = "" // the index holds the ID, not the slot
	data, _ := rec.MarshalBinary()
	want := int64(slotFor(len(data)) + entryOverhead)
	if st := s.Stats(); st.Sessions != 1 || st.Bytes != want {
		t.Fatalf("Stats = %+v; want 1 session of %d bytes (%d encoded)", st, want, len(data))
	}
	s.Patch(id, session.Patch{Now: clk.Now(), Idle: time.Hour, Set: map[string][]byte{"big": make([]byte, 1000)}})
	want = int64(slotFor(len(data)+1006) + entryOverhead) // key "big" and a 1000-byte value with their lengths
	if st := s.Stats(); st.Bytes != want {
		t.Fatalf("Stats.Bytes = %d after adding 1000 bytes; want %d", st.Bytes, want)
	}
	s.Remove(id)
	if st := s.Stats(); st.Sessions != 0 || st.Bytes != 0 {
		t.Fatalf("Stats after Remove = %+v; want zero", st)
	}
}

// slotFor is the size of the slot that holds a record of n bytes.
func slotFor(n int) int {
	n = slotNeed(n)
	for _, size := range slotSizes {
		if size >= n {
			return size
		}
	}
	return n
}

func TestSweep(t *testing.T) {
	clk := newClock()
	s := newStore(t, Config{Now: clk.Now})
	create(t, s, clk.Now(), time.Minute, "a")
	create(t, s, clk.Now(), 2*time.Minute, "b")
	keep := create(t, s, clk.Now(), time.Hour, "c")
	clk.Advance(2 * time.Minute)
	if n := s.Sweep(); n != 2 {
		t.Fatalf("sweep removed %d sessions; want 2", n)
	}
	if st := s.Stats(); st.Sessions != 1 || st.Expired != 2 {
		t.Fatalf("Stats = %+v; want 1 session, 2 expired", st)
	}
	if !found(t, s, keep) {
		t.Fatal("the sweeper removed a live session")
	}
}

// The background sweeper runs on its own and Close stops it (goleak checks
// that it is gone).
func TestSweeperRuns(t *testing.T) {
	clk := newClock()
	s := newStore(t, Config{SweepInterval: time.Millisecond, Now: clk.Now})
	create(t, s, clk.Now(), time.Minute, "a")
	clk.Advance(time.Hour)
	// The sweeper drops the session, then counts it: wait for both.
	testutil.EventuallyNil(t, 10*time.Second, "the sweeper to remove the expired session", func() error {
		if st := s.Stats(); st.Sessions != 0 || st.Expired == 0 {
			return fmt.Errorf("stats %+v", st)
		}
		return nil
	})
	if st := s.Stats(); st.Expired != 1 {
		t.Fatalf("Stats = %+v; want 1 expired", st)
	}
}

func TestGetReturnsCopyAndSkipsExpired(t *testing.T) {
	clk := newClock()
	s := newStore(t, Config{Now: clk.Now})
	id := create(t, s, clk.Now(), time.Minute, "a")
	rec, ok := s.Get(id)
	if !ok || string(rec.Values["k"]) != "a" {
		t.Fatalf("Get = %+v, %t", rec, ok)
	}
	rec.Values["k"][0] = 'X'
	if again, _ := s.Get(id); string(again.Values["k"]) != "a" {
		t.Fatal("changing what Get returned changed the store")
	}
	clk.Advance(time.Minute)
	if _, ok := s.Get(id); ok {
		t.Fatal("Get returned an expired session")
	}
	if st := s.Stats(); st.Sessions != 0 || st.Expired != 1 {
		t.Fatalf("Stats = %+v; want the expired session removed on read", st)
	}
}

func TestUpdate(t *testing.T) {
	clk := newClock()
	s := newStore(t, Config{MaxSessionBytes: 1024, Now: clk.Now})
	id := session.NewID()
	p := session.Patch{NewID: id, Now: clk.Now(), Idle: time.Hour, Set: map[string][]byte{"a": []byte("1")}}

	rec, err := s.Update(id, func(rec *session.Record, found bool) (bool, error) {
		if found {
			t.Error("Update of a new ID reported found")
		}
		p.Apply(rec)
		return true, nil
	})
	if err != nil || rec.ID != id || rec.Version != 1 {
		t.Fatalf("Update (create) = %+v, %v", rec, err)
	}

	rec, err = s.Update(id, func(rec *session.Record, found bool) (bool, error) {
		rec.Values["a"] = []byte("changed but not written")
		return false, nil
	})
	if err != nil || string(rec.Values["a"]) != "1" {
		t.Fatalf("Update with write=false returned %q, %v; want the stored record", rec.Values["a"], err)
	}

	boom := errors.New("boom")
	if _, err := s.Update(id, func(rec *session.Record, _ bool) (bool, error) {
		rec.Version = 99
		return true, boom
	}); err != boom {
		t.Fatalf("Update with a failing fn: %v; want fn's error", err)
	}

	if _, err := s.Update(id, func(rec *session.Record, _ bool) (bool, error) {
		rec.Values["big"] = make([]byte, 2000)
		return true, nil
	}); !errors.Is(err, session.ErrTooLarge) {
		t.Fatalf("Update over MaxSessionBytes: %v; want ErrTooLarge", err)
	}
	if rec, _ := s.Get(id); rec.Version != 1 || len(rec.Values) != 1 {
		t.Fatalf("after refused updates the record is %+v; want it unchanged", rec)
	}
}

func TestPutIf(t *testing.T) {
	clk := newClock()
	s := newStore(t, Config{Now: clk.Now})
	id := session.NewID()
	rec := func(version uint64, v string) *session.Record {
		return &session.Record{ID: id, Values: map[string][]byte{"k": []byte(v)}, Created: clk.Now(),
			Touched: clk.Now(), Idle: clk.Now().Add(time.Hour), Version: version}
	}
	// The caller's rule here: a higher version replaces.
	put := func(r *session.Record) (bool, error) {
		anon := *r
		anon.ID = ""
		return s.PutIf(id, anon.AppendBinary(nil), func(stored []byte) bool {
			var h session.Record
			return h.UnmarshalHeader(stored) == nil && h.Version < r.Version
		})
	}
	steps := []struct {
		rec    *session.Record
		stored bool
		want   string
	}{
		{rec(2, "two"), true, "two"}, // nothing stored: the rule is not asked
		{rec(1, "one"), false, "two"},
		{rec(2, "again"), false, "two"},
		{rec(3, "three"), true, "three"},
	}
	for _, st := range steps {
		ok, err := put(st.rec)
		if err != nil || ok != st.stored {
			t.Fatalf("PutIf version %d = %t, %v; want %t", st.rec.Version, ok, err, st.stored)
		}
		if got, _ := s.Get(id); string(got.Values["k"]) != st.want {
			t.Fatalf("after PutIf version %d the value is %q; want %q", st.rec.Version, got.Values["k"], st.want)
		}
	}
	if ok, _ := put(rec(4, "four")); !ok {
		t.Fatal("PutIf of version 4 refused")
	}
	if got, _ := s.Get(id); got.ID != id {
		t.Fatalf("Get(%s) returned a record with ID %s; a stored record's ID is the ID it is stored under", id, got.ID)
	}
	if _, err := s.PutIf(id, []byte("not a record"), nil); err == nil {
		t.Fatal("PutIf of bytes that are no record: no error")
	}
	expired := rec(9, "dead")
	expired.Idle = clk.Now()
	if ok, err := put(expired); ok || err != nil {
		t.Fatalf("PutIf of an expired record = %t, %v; want false, nil", ok, err)
	}
	if _, err := s.PutIf("bad", rec(10, "x").AppendBinary(nil), nil); !errors.Is(err, ErrInvalidID) {
		t.Fatalf("PutIf under a malformed ID: %v; want ErrInvalidID", err)
	}
}

// liveAndExpired returns a store of 4 shards on its clock holding 20 live
// sessions, whose IDs it returns, and one that has just expired.
func liveAndExpired(t *testing.T) (*Map, *storetest.Clock, map[string]bool) {
	t.Helper()
	clk := newClock()
	s := newStore(t, Config{Shards: 4, Now: clk.Now})
	want := map[string]bool{}
	for i := range 20 {
		want[create(t, s, clk.Now(), time.Hour, fmt.Sprint(i))] = true
	}
	create(t, s, clk.Now(), time.Minute, "expires")
	clk.Advance(time.Minute)
	return s, clk, want
}

func TestRange(t *testing.T) {
	s, clk, want := liveAndExpired(t)
	got := map[string]bool{}
	s.Range(func(id string, rec session.Record) bool {
		if rec.ID != id {
			t.Errorf("Range gave record %s under id %s", rec.ID, id)
		}
		s.Remove(id) // fn may call the store
		got[id] = true
		return true
	})
	if len(got) != len(want) {
		t.Fatalf("Range visited %d sessions; want the %d live ones", len(got), len(want))
	}
	for id := range want {
		if !got[id] {
			t.Fatal("Range missed a live session")
		}
	}
	for range 5 {
		create(t, s, clk.Now(), time.Hour, "x")
	}
	n := 0
	s.Range(func(string, session.Record) bool { n++; return n < 2 })
	if n != 2 {
		t.Fatalf("Range went on for %d calls after fn returned false at 2", n)
	}
}

// RangeBinary gives every live session's ID and stored form, which decode
// to what Range gives, calls between after every shard but the last, and
// stops when fn returns false.
func TestRangeBinary(t *testing.T) {
	s, _, want := liveAndExpired(t)
	full := map[string]session.Record{}
	s.Range(func(id string, rec session.Record) bool {
		full[id] = rec
		return true
	})
	got, pauses := 0, 0
	s.RangeBinary(func(id, data []byte) bool {
		var rec session.Record
		if err := rec.UnmarshalBinary(data); err != nil {
			t.Fatalf("RangeBinary gave %s bytes that do not decode: %v", id, err)
		}
		rec.ID = string(id)
		if !reflect.DeepEqual(rec, full[rec.ID]) {
			t.Errorf("RangeBinary gave %s as %+v; Range as %+v", id, rec, full[rec.ID])
		}
		got++
		return true
	}, func() { pauses++ })
	if got != len(want) || len(full) != len(want) {
		t.Fatalf("RangeBinary visited %d sessions, Range %d; want the %d live ones", got, len(full), len(want))
	}
	if pauses != len(s.shards)-1 {
		t.Errorf("RangeBinary paused %d times; want once between each two of the %d shards", pauses, len(s.shards))
	}
	n := 0
	s.RangeBinary(func(_, _ []byte) bool { n++; return false }, nil)
	if n != 1 {
		t.Fatalf("RangeBinary went on for %d calls after fn returned false at 1", n)
	}
}

// Keys gives the ID of every live session once, not an expired one, lets
// fn call the store, and stops when fn says so.
func TestKeys(t *testing.T) {
	s, clk, want := liveAndExpired(t)
	got := map[string]int{}
	s.Keys(func(id string) bool {
		s.Remove(id) // fn may call the store
		got[id]++
		return true
	})
	for id := range want {
		if got[id] != 1 {
			t.Fatalf("Keys gave a live session %d times; want once", got[id])
		}
	}
	if len(got) != len(want) {
		t.Fatalf("Keys gave %d IDs; want the %d live ones", len(got), len(want))
	}
	for range 5 {
		create(t, s, clk.Now(), time.Hour, "x")
	}
	n := 0
	s.Keys(func(string) bool { n++; return n < 2 })
	if n != 2 {
		t.Fatalf("Keys went on for %d calls after fn returned false at 2", n)
	}
}

// Loads, saves, renews, deletes, sweeps and walks all at once: the race
// detector and the counters must agree at the end.
func TestConcurrentMix(t *testing.T) {
	clk := newClock()
	s := newStore(t, Config{Shards: 4, MaxSessions: 50, Now: clk.Now})
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 200 {
				id := session.NewID()
				p := session.Patch{NewID: id, Now: clk.Now(), Idle: time.Duration(i%7+1) * time.Minute, Set: map[string][]byte{"k": []byte(fmt.Sprint(g))}}
				if err := s.Create(p); errors.Is(err, session.ErrFull) {
					continue // full of sessions in use: a new one is refused
				} else if err != nil {
					t.Errorf("Create: %v", err)
					return
				}
				s.LoadBinary(id)
				s.Renew(id, session.Patch{NewID: session.NewID(), Now: clk.Now(), Idle: time.Hour})
				if i%3 == 0 {
					s.Remove(id)
				}
				if i%50 == 0 {
					clk.Advance(3 * time.Minute)
					s.Sweep()
					s.Range(func(string, session.Record) bool { return true })
				}
			}
		})
	}
	wg.Wait()
	n := 0
	for i := range s.shards {
		n += s.shards[i].index.n
	}
	if st := s.Stats(); st.Sessions != n || st.Sessions > 50 {
		t.Fatalf("Stats = %+v with %d entries held; want them equal and at most 50", st, n)
	}
}

// ApplyPatch applies a patch to the stored bytes after the caller's check
// of the stored header, and returns the patched bytes.
func TestApplyPatch(t *testing.T) {
	clk := newClock()
	s := newStore(t, Config{MaxSessionBytes: 1024, Now: clk.Now})
	id := create(t, s, clk.Now(), time.Hour, "a")
	p := session.Patch{Now: clk.Now(), Idle: time.Hour, Set: map[string][]byte{"n": []byte("1")}}
	var seen uint64
	data, err := s.ApplyPatch(id, p, func(h *session.Record) error { seen = h.Version; return nil })
	var rec session.Record
	if err != nil || rec.UnmarshalBinary(data) != nil || rec.ID != "" || rec.Version != 2 || string(rec.Values["n"]) != "1" || string(rec.Values["k"]) != "a" {
		t.Fatalf("ApplyPatch = %+v, %v; want version 2 with both keys, no ID", rec, err)
	}
	if seen != 1 {
		t.Fatalf("check saw version %d; want the stored 1", seen)
	}
	if got, _ := s.Get(id); got.Version != 2 || string(got.Values["n"]) != "1" {
		t.Fatalf("stored %+v; want the patch applied", got)
	}
	no := errors.New("refused")
	if _, err := s.ApplyPatch(id, p, func(*session.Record) error { return no }); err != no {
		t.Fatalf("ApplyPatch refused by check: %v; want check's error", err)
	}
	if got, _ := s.Get(id); got.Version != 2 {
		t.Fatalf("a refused patch changed the session: %+v", got)
	}
	big := session.Patch{Now: clk.Now(), Idle: time.Hour, Set: map[string][]byte{"big": make([]byte, 2000)}}
	if _, err := s.ApplyPatch(id, big, func(*session.Record) error { return nil }); !errors.Is(err, session.ErrTooLarge) {
		t.Fatalf("ApplyPatch over MaxSessionBytes: %v; want ErrTooLarge", err)
	}
	for _, missing := range []string{session.NewID(), "bad"} {
		if _, err := s.ApplyPatch(missing, p, func(*session.Record) error { return nil }); !errors.Is(err, session.ErrNotFound) {
			t.Fatalf("ApplyPatch of a missing session: %v; want ErrNotFound", err)
		}
	}
}

// At a bound, a flood of new sessions displaces itself, not the users who
// come back: sessions used again after their first request are kept, and
// once only they are left, a new session is refused (session.ErrFull)
// rather than one of them evicted.
func TestBoundKeepsReturningUsers(t *testing.T) {
	clk := newClock()
	const bound, users, flood = 1000, 500, 10 * 1000
	s := newStore(t, Config{MaxSessions: bound, Now: clk.Now})
	var ids []string
	for i := range users {
		ids = append(ids, create(t, s, clk.Now(), time.Hour, fmt.Sprint(i)))
	}
	refused := 0
	for i := range flood {
		if i%20 == 0 { // the users keep coming back during the flood
			for _, id := range ids {
				s.LoadBinary(id)
			}
		}
		p := session.Patch{NewID: session.NewID(), Now: clk.Now(), Idle: time.Hour, Set: map[string][]byte{"k": []byte("flood")}}
		if err := s.Create(p); errors.Is(err, session.ErrFull) {
			refused++
		} else if err != nil {
			t.Fatal(err)
		}
		if n := s.Stats().Sessions; n > bound {
			t.Fatalf("after %d flood sessions the store holds %d; the bound is %d", i+1, n, bound)
		}
	}
	kept := 0
	for _, id := range ids {
		if found(t, s, id) {
			kept++
		}
	}
	if kept < users*99/100 {
		t.Fatalf("%d of %d returning users kept their session through a flood of %d at a bound of %d", kept, users, flood, bound)
	}
	t.Logf("kept %d of %d users; %d flood sessions refused; %+v", kept, users, refused, s.Stats())

	// Only sessions in use left: a new session is refused, nobody evicted.
	full := newStore(t, Config{MaxSessions: 10, Shards: 1, Now: clk.Now})
	var inUse []string
	for range 10 {
		id := create(t, full, clk.Now(), time.Hour, "v")
		full.LoadBinary(id)
		inUse = append(inUse, id)
	}
	p := session.Patch{NewID: session.NewID(), Now: clk.Now(), Idle: time.Hour}
	if err := full.Create(p); !errors.Is(err, session.ErrFull) {
		t.Fatalf("Create in a store full of sessions in use: %v; want ErrFull", err)
	}
	if _, ok := full.Get(p.NewID); ok {
		t.Fatal("the refused session was stored")
	}
	for _, id := range inUse {
		if !found(t, full, id) {
			t.Fatal("a session in use was evicted to make room")
		}
	}
	if st := full.Stats(); st.Refused != 1 || st.Evictions != 0 || st.Sessions != 10 {
		t.Fatalf("Stats = %+v; want 1 refused, 0 evictions, 10 sessions", st)
	}
	// Expired sessions and spare ones go first.
	clk.Advance(2 * time.Hour)
	if err := full.Create(p); err != nil {
		t.Fatalf("Create once the sessions expired: %v", err)
	}
}

// LoadBinaryFirst reports a session's first use once: the read that ends
// its being spare. Later reads, a patched session, and a missing one are
// no first use.
func TestLoadBinaryFirst(t *testing.T) {
	clk := newClock()
	s := newStore(t, Config{Now: clk.Now})
	id := create(t, s, clk.Now(), time.Hour, "v")
	if data, ok, first := s.LoadBinaryFirst(id); !ok || !first || len(data) == 0 {
		t.Fatalf("first read of a new session: found %v, first %v", ok, first)
	}
	if _, ok, first := s.LoadBinaryFirst(id); !ok || first {
		t.Fatalf("second read: found %v, first %v; want found, not first", ok, first)
	}
	patched := create(t, s, clk.Now(), time.Hour, "v")
	if _, err := s.ApplyPatch(patched, session.Patch{Now: clk.Now(), Idle: time.Hour, Set: map[string][]byte{"k": []byte("w")}}, func(*session.Record) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if _, ok, first := s.LoadBinaryFirst(patched); !ok || first {
		t.Fatalf("read of a patched session: found %v, first %v; want found, not first", ok, first)
	}
	if _, ok, first := s.LoadBinaryFirst(session.NewID()); ok || first {
		t.Fatalf("read of a missing session: found %v, first %v", ok, first)
	}
}

// RemoveIf removes a session only when the rule, shown what is stored,
// says so: a copy that changed since the caller looked stays.
func TestRemoveIf(t *testing.T) {
	clk := newClock()
	s := newStore(t, Config{Now: clk.Now})
	id := create(t, s, clk.Now(), time.Hour, "one")
	seen, _ := s.Peek(id)
	if err := s.Patch(id, session.Patch{Set: map[string][]byte{"k": []byte("two")}, Now: clk.Now(), Idle: time.Hour}); err != nil {
		t.Fatal(err)
	}
	same := func(stored []byte) bool { return bytes.Equal(stored, seen) }
	if s.RemoveIf(id, same) || !s.Has(id) {
		t.Fatal("RemoveIf removed a session that changed since it was read")
	}
	seen, _ = s.Peek(id)
	if !s.RemoveIf(id, same) || s.Has(id) {
		t.Fatal("RemoveIf kept a session whose stored copy the rule approved")
	}
	if s.RemoveIf(id, nil) {
		t.Fatal("RemoveIf of a missing session reports a removal")
	}
}
