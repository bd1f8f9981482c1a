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

	"github.com/sessionmesh/sessionmesh/session"
	"github.com/sessionmesh/sessionmesh/stores/storetest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

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

// get loads id, failing the test on an error.
func get(t *testing.T, s *Store, id string) session.Record {
	t.Helper()
	rec, _, err := s.Load(ctx, id)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return rec
}

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

func TestValidate(t *testing.T) {
	tests := []struct {
		cfg   Config
		field string
	}{
		{Config{Shards: 3}, "Shards"},
		{Config{Shards: -2}, "Shards"},
		{Config{MaxSessions: -1}, "MaxSessions"},
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

// TestValidateListsEveryProblem: one error per bad field, all joined.
func TestValidateListsEveryProblem(t *testing.T) {
	cfg := Config{Shards: 3, MaxSessions: -1, MaxBytes: 1000, MaxSessionBytes: -5, SweepInterval: -time.Second}
	err := cfg.Validate()
	if !errors.Is(err, session.ErrInvalidConfig) {
		t.Fatalf("Validate() = %v; want ErrInvalidConfig", err)
	}
	for _, f := range []string{"Shards", "MaxSessions", "MaxBytes", "MaxSessionBytes", "SweepInterval"} {
		if !strings.Contains(err.Error(), "invalid config: "+f+" is") {
			t.Errorf("Validate() does not name %s:\n%v", f, err)
		}
	}
}

func TestDefaultConfig(t *testing.T) {
	c := DefaultConfig()
	if c.Shards != 64 || c.MaxSessions != 0 || c.MaxBytes != 256<<20 || c.MaxSessionBytes != 1<<20 ||
		c.SweepInterval != time.Minute || c.Now == nil {
		t.Fatalf("DefaultConfig() = %+v", c)
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
	if rec := get(t, s, other); string(rec.Values["k"]) != "b" || rec.Version != 1 {
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
			s.Delete(ctx, old) // stop the patchers
		}
		wg.Wait()
		if err != nil {
			t.Fatalf("round %d: renew: %v", round, err)
		}
		rec, ok, _ := s.Load(ctx, newID)
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

// The benchmarks' session is the ~200-byte session they claim to measure.
func TestBenchmarkSessionSize(t *testing.T) {
	rec := session.Record{ID: session.NewID(), Values: typicalValues(), Created: time.Now(), Touched: time.Now(),
		Idle: time.Now().Add(time.Hour), Version: 3}
	if n := len(rec.AppendBinary(nil)); n < 180 || n > 240 {
		t.Fatalf("the benchmark session encodes to %d bytes; want ~200", n)
	}
}

// Iterate walks every live session once, not an expired one the sweeper
// has not removed yet, stops when its function says so, and ends with
// the ctx.
func TestIterate(t *testing.T) {
	clock := newClock()
	s := newStore(t, Config{Now: clock.Now})
	live := map[string]bool{}
	for i := range 50 {
		live[create(t, s, clock.Now(), time.Hour, fmt.Sprint(i))] = true
	}
	create(t, s, clock.Now(), time.Minute, "short")
	clock.Advance(2 * time.Minute)
	seen := map[string]int{}
	if err := s.Iterate(ctx, func(rec session.Record) bool { seen[rec.ID]++; return true }); err != nil {
		t.Fatal(err)
	}
	for id := range live {
		if seen[id] != 1 {
			t.Fatalf("session %s seen %d times; want once", id, seen[id])
		}
	}
	if len(seen) != len(live) {
		t.Fatalf("Iterate saw %d sessions; want the %d live ones", len(seen), len(live))
	}
	calls := 0
	if err := s.Iterate(ctx, func(session.Record) bool { calls++; return calls < 3 }); err != nil || calls != 3 {
		t.Fatalf("Iterate went on after its function returned false: %d calls, %v", calls, err)
	}
	done, cancel := context.WithCancel(ctx)
	cancel()
	if err := s.Iterate(done, func(session.Record) bool { return true }); !errors.Is(err, context.Canceled) {
		t.Fatalf("Iterate with a canceled ctx: %v; want context.Canceled", err)
	}
}
