package metrics_test

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"go.uber.org/goleak"

	"github.com/sessionmesh/sessionmesh/metrics"
	"github.com/sessionmesh/sessionmesh/session"
	"github.com/sessionmesh/sessionmesh/stores/cookie"
	"github.com/sessionmesh/sessionmesh/stores/memory"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var ctx = context.Background()

func newMemory(t testing.TB, cfg memory.Config) *memory.Store {
	t.Helper()
	st, err := memory.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// gathered returns the value of the sample of name with labels (pairs of
// name and value), a histogram's count; -1 when there is none.
func gathered(t *testing.T, reg *prometheus.Registry, name string, labels ...string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.Metric {
			if !labelled(m, labels) {
				continue
			}
			switch {
			case m.Counter != nil:
				return m.Counter.GetValue()
			case m.Gauge != nil:
				return m.Gauge.GetValue()
			case m.Histogram != nil:
				return float64(m.Histogram.GetSampleCount())
			}
		}
	}
	return -1
}

func labelled(m *dto.Metric, pairs []string) bool {
	have := map[string]string{}
	for _, l := range m.Label {
		have[l.GetName()] = l.GetValue()
	}
	for i := 0; i < len(pairs); i += 2 {
		if have[pairs[i]] != pairs[i+1] {
			return false
		}
	}
	return true
}

func patch(id string) session.Patch {
	return session.Patch{NewID: id, Set: map[string][]byte{"k": []byte("1")}, Now: time.Now(), Idle: time.Hour}
}

// Each call of the wrapped store is counted by what it did, and timed.
func TestInstrumentStoreCountsOutcomes(t *testing.T) {
	reg := prometheus.NewRegistry()
	mem := newMemory(t, memory.DefaultConfig())
	st, err := metrics.InstrumentStore(reg, mem)
	if err != nil {
		t.Fatal(err)
	}
	id := session.NewID()
	if _, err := st.Save(ctx, "", patch(id)); err != nil { // a creation
		t.Fatal(err)
	}
	if _, err := st.Save(ctx, id, patch("")); err != nil { // a change
		t.Fatal(err)
	}
	renewed := session.NewID()
	if _, err := st.Save(ctx, id, patch(renewed)); err != nil { // a renewal
		t.Fatal(err)
	}
	if _, err := st.Save(ctx, id, patch("")); !errors.Is(err, session.ErrNotFound) { // renewed away
		t.Fatalf("Save of a renewed-away ID = %v, want ErrNotFound", err)
	}
	st.Load(ctx, renewed)                           // found
	st.(session.BinaryLoader).LoadBinary(ctx, id)   // a miss
	st.Load(ctx, "not-an-id")                       // a miss with an invalid token
	if err := st.Delete(ctx, renewed); err != nil { // a destroy
		t.Fatal(err)
	}
	want := []struct {
		name   string
		labels []string
		n      float64
	}{
		{"sessionmesh_session_creations_total", nil, 1},
		{"sessionmesh_session_renewals_total", nil, 1},
		{"sessionmesh_session_saves_total", nil, 3},
		{"sessionmesh_session_loads_total", nil, 1},
		{"sessionmesh_session_misses_total", nil, 2},
		{"sessionmesh_session_invalid_tokens_total", nil, 1},
		{"sessionmesh_session_destroys_total", nil, 1},
		{"sessionmesh_store_errors_total", []string{"op", "save", "kind", "not_found"}, 1},
		{"sessionmesh_store_errors_total", []string{"op", "save", "kind", "full"}, 0},
		{"sessionmesh_store_duration_seconds", []string{"op", "save"}, 4},
		{"sessionmesh_store_duration_seconds", []string{"op", "load"}, 3},
		{"sessionmesh_store_duration_seconds", []string{"op", "delete"}, 1},
	}
	for _, w := range want {
		if got := gathered(t, reg, w.name, w.labels...); got != w.n {
			t.Errorf("%s%v = %v, want %v", w.name, w.labels, got, w.n)
		}
	}
}

// A memory store at its bound refuses a new session rather than evict
// one in use: a refusal, by the wrapper and by the store's own counter.
func TestRefusalsAreCounted(t *testing.T) {
	reg := prometheus.NewRegistry()
	mem := newMemory(t, memory.Config{MaxSessions: 1, Shards: 1})
	st, err := metrics.InstrumentStore(reg, mem)
	if err != nil {
		t.Fatal(err)
	}
	if err := metrics.RegisterMemory(reg, mem); err != nil {
		t.Fatal(err)
	}
	id := session.NewID()
	if _, err := st.Save(ctx, "", patch(id)); err != nil {
		t.Fatal(err)
	}
	st.(session.BinaryLoader).LoadBinary(ctx, id) // used again: not evicted for a newcomer
	if _, err := st.Save(ctx, "", patch(session.NewID())); !errors.Is(err, session.ErrFull) {
		t.Fatalf("a second session in a store bounded to one = %v, want ErrFull", err)
	}
	if got := gathered(t, reg, "sessionmesh_store_errors_total", "op", "save", "kind", "full"); got != 1 {
		t.Errorf("errors{kind=full} = %v, want 1", got)
	}
	if got := gathered(t, reg, "sessionmesh_memory_refusals_total"); got != 1 {
		t.Errorf("sessionmesh_memory_refusals_total = %v, want 1", got)
	}
	if got := gathered(t, reg, "sessionmesh_memory_sessions"); got != 1 {
		t.Errorf("sessionmesh_memory_sessions = %v, want 1", got)
	}
	mem.Close()
	if _, _, err := st.Load(ctx, id); !errors.Is(err, session.ErrClosed) {
		t.Fatalf("Load after Close = %v, want ErrClosed", err)
	}
	if got := gathered(t, reg, "sessionmesh_store_errors_total", "op", "load", "kind", "closed"); got != 1 {
		t.Errorf("errors{op=load,kind=closed} = %v, want 1", got)
	}
}

// idStore is a real memory store that also chooses IDs, as the cluster
// store does.
type idStore struct{ *memory.Store }

func (idStore) NewID() string { return session.NewID() }

// The wrapper has exactly the optional interfaces of the store it wraps,
// so the Manager takes the same paths; Unwrap gives the store back.
func TestInstrumentStoreKeepsOptionalInterfaces(t *testing.T) {
	mem := newMemory(t, memory.DefaultConfig())
	ck, err := cookie.New(cookie.DefaultConfig(cookie.Key{ID: "k1", Secret: make([]byte, 32)}))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name         string
		st           session.Store
		binary, gens bool
	}{
		{"memory", mem, true, false},
		{"memory+IDGenerator", idStore{mem}, true, true},
		{"cookie", ck, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, err := metrics.InstrumentStore(prometheus.NewRegistry(), tc.st)
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := st.(session.BinaryLoader); ok != tc.binary {
				t.Errorf("instrumented store is a BinaryLoader: %v, want %v", ok, tc.binary)
			}
			if _, ok := st.(session.IDGenerator); ok != tc.gens {
				t.Errorf("instrumented store is an IDGenerator: %v, want %v", ok, tc.gens)
			}
			if u := st.(interface{ Unwrap() session.Store }).Unwrap(); u != tc.st {
				t.Errorf("Unwrap = %T, want the store wrapped", u)
			}
		})
	}
}

// With the cookie store every miss is a cookie that does not open.
func TestCookieMissesAreInvalidTokens(t *testing.T) {
	reg := prometheus.NewRegistry()
	ck, err := cookie.New(cookie.DefaultConfig(cookie.Key{ID: "k1", Secret: make([]byte, 32)}))
	if err != nil {
		t.Fatal(err)
	}
	st, _ := metrics.InstrumentStore(reg, ck)
	token, err := st.Save(ctx, "", patch(session.NewID()))
	if err != nil {
		t.Fatal(err)
	}
	st.Load(ctx, token)
	st.Load(ctx, token[:len(token)-2]+"xx") // tampered
	if got := gathered(t, reg, "sessionmesh_session_invalid_tokens_total"); got != 1 {
		t.Errorf("invalid tokens = %v, want 1 (the tampered cookie)", got)
	}
	if got := gathered(t, reg, "sessionmesh_session_loads_total"); got != 1 {
		t.Errorf("loads = %v, want 1", got)
	}
}

// Registering twice on one registry fails with an error, not a panic.
func TestRegisterTwiceFails(t *testing.T) {
	reg := prometheus.NewRegistry()
	mem := newMemory(t, memory.DefaultConfig())
	if _, err := metrics.InstrumentStore(reg, mem); err != nil {
		t.Fatal(err)
	}
	_, err := metrics.InstrumentStore(reg, mem)
	var are prometheus.AlreadyRegisteredError
	if !errors.As(err, &are) {
		t.Fatalf("a second InstrumentStore on one registry = %v, want AlreadyRegisteredError", err)
	}
	if err := metrics.RegisterMemory(reg, mem); err != nil {
		t.Fatal(err)
	}
	if err := metrics.RegisterMemory(reg, mem); err == nil {
		t.Fatal("a second RegisterMemory on one registry succeeded")
	}
}

// Late changes are read from the Manager at scrape time.
func TestLateChanges(t *testing.T) {
	reg := prometheus.NewRegistry()
	cfg := session.DefaultConfig(newMemory(t, memory.DefaultConfig()))
	cfg.Logger = slog.New(slog.DiscardHandler)
	m, err := session.NewManager(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := metrics.RegisterManager(reg, m); err != nil {
		t.Fatal(err)
	}
	s := m.Start(ctx)
	s.Set("k", 1)
	if _, err := m.Commit(s); err != nil {
		t.Fatal(err)
	}
	s.Set("k", 2) // after the commit: lost, and counted
	if got := gathered(t, reg, "sessionmesh_session_late_changes_total"); got != 1 {
		t.Errorf("late changes = %v, want 1", got)
	}
}
