package memory

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/sessionmesh/sessionmesh/internal/testutil"
	"github.com/sessionmesh/sessionmesh/session"
	"github.com/sessionmesh/sessionmesh/stores/storetest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T, now func() time.Time) session.Store {
		return newStore(t, Config{Now: now})
	})
}

// One shard puts every renew's old and new ID under the same lock.
func TestConformanceOneShard(t *testing.T) {
	storetest.Run(t, func(t *testing.T, now func() time.Time) session.Store {
		return newStore(t, Config{Shards: 1, Now: now})
	})
}

func newStore(t *testing.T, cfg Config) *Store {
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

var ctx = context.Background()

// create saves a new session with key "k" = v that idles out after idle.
func create(t *testing.T, s *Store, now time.Time, idle time.Duration, v string) string {
	t.Helper()
	id := session.NewID()
	p := session.Patch{NewID: id, Now: now, Idle: idle, Set: map[string][]byte{"k": []byte(v)}}
	if _, err := s.Save(ctx, "", p); err != nil {
		t.Fatalf("Save new session: %v", err)
	}
	return id
}

func found(t *testing.T, s *Store, id string) bool {
	t.Helper()
	_, ok, err := s.Load(ctx, id)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return ok
}

func TestValidate(t *testing.T) {
	tests := []struct {
		cfg   Config
		field string
	}{
		{Config{Shards: 3}, "Shards"},
		{Config{Shards: -2}, "Shards"},
		{Config{MaxSessions: -1}, "MaxSessions"},
		{Config{MaxBytes: -1}, "MaxBytes"},
		{Config{MaxBytes: 1000}, "MaxBytes"}, // below the default MaxSessionBytes
		{Config{MaxBytes: 1000, MaxSessionBytes: 2000}, "MaxBytes"},
		{Config{MaxSessionBytes: -5}, "MaxSessionBytes"},
		{Config{SweepInterval: -time.Second}, "SweepInterval"},
	}
	for _, tt := range tests {
		_, err := New(tt.cfg)
		if !errors.Is(err, session.ErrInvalidConfig) || !strings.Contains(err.Error(), tt.field) {
			t.Errorf("New(%+v) = %v; want an ErrInvalidConfig naming %s", tt.cfg, err, tt.field)
		}
	}
	for _, cfg := range []Config{{}, DefaultConfig(), {Shards: 1, MaxBytes: 2000, MaxSessionBytes: 1000}} {
		if err := cfg.Validate(); err != nil {
			t.Errorf("Validate(%+v) = %v; want nil", cfg, err)
		}
	}
}

func TestDefaultConfig(t *testing.T) {
	c := DefaultConfig()
	if c.Shards != 64 || c.MaxSessions != 0 || c.MaxBytes != 0 || c.MaxSessionBytes != 1<<20 ||
		c.SweepInterval != time.Minute || c.Now == nil {
		t.Fatalf("DefaultConfig() = %+v", c)
	}
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

// A memory bound never refuses a login, even when it is smaller than the
// number of shards, and it holds at every step.
func TestFullStoreNeverRefusesLogin(t *testing.T) {
	clk := newClock()
	s := newStore(t, Config{Shards: 16, MaxSessions: 10, Now: clk.Now})
	var last string
	for i := range 200 {
		clk.Advance(time.Second)
		last = create(t, s, clk.Now(), time.Hour, fmt.Sprint(i))
		if n := s.Stats().Sessions; n > 10 {
			t.Fatalf("after %d logins the store holds %d sessions; MaxSessions is 10", i+1, n)
		}
	}
	if !found(t, s, last) {
		t.Fatal("the newest session was evicted")
	}
	if st := s.Stats(); st.Sessions != 10 || st.Evictions != 190 {
		t.Fatalf("Stats = %+v; want 10 sessions and 190 evictions", st)
	}
}

func TestMaxBytes(t *testing.T) {
	clk := newClock()
	const limit = 4096
	s := newStore(t, Config{Shards: 4, MaxBytes: limit, MaxSessionBytes: 1024, Now: clk.Now})
	value := `"` + strings.Repeat("x", 500) + `"`
	for range 50 {
		create(t, s, clk.Now(), time.Hour, value)
		if b := s.Stats().Bytes; b > limit {
			t.Fatalf("Stats.Bytes = %d; MaxBytes is %d", b, limit)
		}
	}
	st := s.Stats()
	if st.Evictions == 0 || st.Sessions < 2 {
		t.Fatalf("Stats = %+v; want evictions and a few ~600-byte sessions in 4096 bytes", st)
	}
	big := session.Patch{NewID: session.NewID(), Now: clk.Now(), Idle: time.Hour,
		Set: map[string][]byte{"k": []byte(strings.Repeat("y", 1100))}}
	if _, err := s.Save(ctx, "", big); !errors.Is(err, session.ErrTooLarge) || !strings.Contains(err.Error(), "MaxSessionBytes") {
		t.Fatalf("Save of 1100 bytes with MaxSessionBytes 1024: %v; want ErrTooLarge naming MaxSessionBytes", err)
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
	s.Save(ctx, id, session.Patch{Now: clk.Now(), Idle: time.Hour, Set: map[string][]byte{"big": make([]byte, 1000)}})
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
	if n := s.sweep(); n != 2 {
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

func TestClose(t *testing.T) {
	clk := newClock()
	s := newStore(t, Config{Now: clk.Now})
	id := create(t, s, clk.Now(), time.Hour, "a")
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, _, err := s.Load(ctx, id); !errors.Is(err, session.ErrClosed) {
		t.Errorf("Load after Close: %v; want ErrClosed", err)
	}
	if _, err := s.Save(ctx, id, session.Patch{Now: clk.Now(), Idle: time.Hour}); !errors.Is(err, session.ErrClosed) {
		t.Errorf("Save after Close: %v; want ErrClosed", err)
	}
	if err := s.Delete(ctx, id); !errors.Is(err, session.ErrClosed) {
		t.Errorf("Delete after Close: %v; want ErrClosed", err)
	}
	if _, ok := s.Get(id); !ok {
		t.Error("Get after Close lost the session; the engine API must keep working for handoff")
	}
}

func TestSaveRefusesBadNewID(t *testing.T) {
	clk := newClock()
	s := newStore(t, Config{Now: clk.Now})
	for _, newID := range []string{"", "short", strings.Repeat("!", session.IDLen)} {
		_, err := s.Save(ctx, "", session.Patch{NewID: newID, Now: clk.Now(), Idle: time.Hour})
		if !errors.Is(err, ErrInvalidID) {
			t.Errorf("Save of a new session with NewID %q: %v; want ErrInvalidID", newID, err)
		}
	}
	id := create(t, s, clk.Now(), time.Hour, "a")
	if _, err := s.Save(ctx, id, session.Patch{NewID: "bad", Now: clk.Now(), Idle: time.Hour}); !errors.Is(err, ErrInvalidID) {
		t.Errorf("renew to a bad ID: %v; want ErrInvalidID", err)
	}
	other := create(t, s, clk.Now(), time.Hour, "b")
	if _, err := s.Save(ctx, id, session.Patch{NewID: other, Now: clk.Now(), Idle: time.Hour}); !errors.Is(err, ErrIDInUse) {
		t.Errorf("renew onto a live session's ID: %v; want ErrIDInUse", err)
	}
	if _, err := s.Save(ctx, "", session.Patch{NewID: other, Now: clk.Now(), Idle: time.Hour}); !errors.Is(err, ErrIDInUse) {
		t.Errorf("create with a live session's ID: %v; want ErrIDInUse", err)
	}
	if rec, _ := s.Get(other); string(rec.Values["k"]) != "b" || rec.Version != 1 {
		t.Errorf("the session whose ID was reused changed: %+v", rec)
	}
}

// Every patch on the old ID that a concurrent renew lets through is in the
// renewed session; every other one fails with ErrNotFound. No acknowledged
// write is lost.
func TestRenewIsAtomic(t *testing.T) {
	clk := newClock()
	s := newStore(t, Config{Shards: 4, Now: clk.Now})
	for round := range 50 {
		old := create(t, s, clk.Now(), time.Hour, "a")
		newID := session.NewID()
		var acked sync.Map
		var wg sync.WaitGroup
		for g := range 4 {
			wg.Go(func() {
				for i := 0; ; i++ {
					key := fmt.Sprintf("g%d-%d", g, i)
					p := session.Patch{Now: clk.Now(), Idle: time.Hour, Set: map[string][]byte{key: []byte("1")}}
					_, err := s.Save(ctx, old, p)
					if errors.Is(err, session.ErrNotFound) {
						return
					}
					if err != nil {
						t.Errorf("round %d: patch on the old ID: %v", round, err)
						return
					}
					acked.Store(key, true)
				}
			})
		}
		_, err := s.Save(ctx, old, session.Patch{NewID: newID, Now: clk.Now(), Idle: time.Hour})
		if err != nil {
			s.Remove(old) // stop the patchers
		}
		wg.Wait()
		if err != nil {
			t.Fatalf("round %d: renew: %v", round, err)
		}
		rec, ok := s.Get(newID)
		if !ok {
			t.Fatalf("round %d: the renewed session is gone", round)
		}
		acked.Range(func(k, _ any) bool {
			if rec.Values[k.(string)] == nil {
				t.Fatalf("round %d: acknowledged patch %s is missing after renew", round, k)
			}
			return true
		})
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

func TestPut(t *testing.T) {
	clk := newClock()
	s := newStore(t, Config{Now: clk.Now})
	id := session.NewID()
	rec := func(version uint64, v string) session.Record {
		return session.Record{ID: id, Values: map[string][]byte{"k": []byte(v)}, Created: clk.Now(),
			Touched: clk.Now(), Idle: clk.Now().Add(time.Hour), Version: version}
	}
	steps := []struct {
		rec    session.Record
		stored bool
		want   string
	}{
		{rec(2, "two"), true, "two"},
		{rec(1, "one"), false, "two"},   // older: a replica must not go back
		{rec(2, "again"), false, "two"}, // same version: the first copy wins
		{rec(3, "three"), true, "three"},
	}
	for _, st := range steps {
		ok, err := s.Put(id, st.rec)
		if err != nil || ok != st.stored {
			t.Fatalf("Put version %d = %t, %v; want %t", st.rec.Version, ok, err, st.stored)
		}
		if got, _ := s.Get(id); string(got.Values["k"]) != st.want {
			t.Fatalf("after Put version %d the value is %q; want %q", st.rec.Version, got.Values["k"], st.want)
		}
	}
	misnamed := rec(4, "four")
	misnamed.ID = session.NewID()
	if ok, _ := s.Put(id, misnamed); !ok {
		t.Fatal("Put of version 4 refused")
	}
	if got, _ := s.Get(id); got.ID != id {
		t.Fatalf("Get(%s) returned a record with ID %s; a stored record's ID is the ID it is stored under", id, got.ID)
	}
	expired := rec(9, "dead")
	expired.Idle = clk.Now()
	if ok, err := s.Put(id, expired); ok || err != nil {
		t.Fatalf("Put of an expired record = %t, %v; want false, nil", ok, err)
	}
}

func TestRange(t *testing.T) {
	clk := newClock()
	s := newStore(t, Config{Shards: 4, Now: clk.Now})
	want := map[string]bool{}
	for i := range 20 {
		want[create(t, s, clk.Now(), time.Hour, fmt.Sprint(i))] = true
	}
	create(t, s, clk.Now(), time.Minute, "expires")
	clk.Advance(time.Minute)
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

// Loads, saves, renews, deletes, sweeps and walks all at once: the race
// detector and the counters must agree at the end.
func TestConcurrentMix(t *testing.T) {
	clk := newClock()
	s := newStore(t, Config{Shards: 4, MaxSessions: 50, Now: clk.Now})
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 200 {
				id := create(t, s, clk.Now(), time.Duration(i%7+1)*time.Minute, fmt.Sprint(g))
				s.Load(ctx, id)
				s.Save(ctx, id, session.Patch{NewID: session.NewID(), Now: clk.Now(), Idle: time.Hour})
				if i%3 == 0 {
					s.Delete(ctx, id)
				}
				if i%50 == 0 {
					clk.Advance(3 * time.Minute)
					s.sweep()
					s.Range(func(string, session.Record) bool { return true })
				}
			}
		})
	}
	wg.Wait()
	n := 0
	for i := range s.shards {
		n += len(s.shards[i].index)
	}
	if st := s.Stats(); st.Sessions != n || st.Sessions > 50 {
		t.Fatalf("Stats = %+v with %d entries held; want them equal and at most 50", st, n)
	}
}

// The benchmarks' session is the ~200-byte session they claim to measure.
func TestBenchmarkSessionSize(t *testing.T) {
	rec := session.Record{ID: session.NewID(), Values: typicalValues(), Created: time.Now(), Touched: time.Now(),
		Idle: time.Now().Add(time.Hour), Version: 3}
	if n := len(rec.AppendBinary(nil)); n < 180 || n > 240 {
		t.Fatalf("the benchmark session encodes to %d bytes; want ~200", n)
	}
}

// LoadBinary is Load without decoding: the same record (its ID left to the
// token), the same not-found cases, its own copy of the bytes.
func TestLoadBinary(t *testing.T) {
	clk := newClock()
	s := newStore(t, Config{Now: clk.Now})
	id := create(t, s, clk.Now(), time.Minute, "v")
	data, ok, err := s.LoadBinary(ctx, id)
	var rec session.Record
	if err != nil || !ok || rec.UnmarshalBinary(data) != nil {
		t.Fatalf("LoadBinary = %q, %t, %v; want the record", data, ok, err)
	}
	want, _, _ := s.Load(ctx, id)
	if rec.ID != "" || string(rec.Values["k"]) != "v" || rec.Version != want.Version || !rec.Idle.Equal(want.Idle) {
		t.Fatalf("LoadBinary decodes to %+v; Load gives %+v (with the ID)", rec, want)
	}
	clear(data)
	if again, _, _ := s.LoadBinary(ctx, id); string(again[len(again)-1:]) != "v" {
		t.Fatal("changing the returned bytes changed the store")
	}
	for _, token := range []string{"", "short", session.NewID()} {
		if data, ok, err := s.LoadBinary(ctx, token); ok || err != nil || data != nil {
			t.Errorf("LoadBinary(%q) = %q, %t, %v; want not found", token, data, ok, err)
		}
	}
	clk.Advance(time.Minute)
	if _, ok, _ := s.LoadBinary(ctx, id); ok {
		t.Error("LoadBinary found an expired session")
	}
	s.Close()
	if _, _, err := s.LoadBinary(ctx, id); !errors.Is(err, session.ErrClosed) {
		t.Errorf("LoadBinary after Close: %v; want ErrClosed", err)
	}
}
