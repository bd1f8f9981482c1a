package memory

import (
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionmesh/sessionmesh/session"
)

// benchSessions is how many sessions the benchmarks spread their requests
// over, so parallel requests mostly hit different shards, as real traffic
// does.
const benchSessions = 10_000

// typicalValues make a record of ~210 encoded bytes: a user, a counter, a CSRF token and
// a flash message.
func typicalValues() map[string][]byte {
	return map[string][]byte{
		"user":    []byte(`{"id":18734,"name":"ada"}`),
		"counter": []byte(`41`),
		"csrf":    []byte(`"Yh3k9Qd0a2ZpLk1mN0x4c3R5dWlvcDEyMzQ1Njc4"`),
		"flash":   []byte(`"Your changes were saved."`),
	}
}

func fill(b *testing.B, s *Store, n int) []string {
	b.Helper()
	ids := newIDs(n)
	fillIDs(b, s, ids)
	return ids
}

func newIDs(n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = session.NewID()
	}
	return ids
}

func fillIDs(b *testing.B, s *Store, ids []string) {
	b.Helper()
	now := time.Now()
	for _, id := range ids {
		p := session.Patch{NewID: id, Now: now, Idle: time.Hour, Set: typicalValues()}
		if _, err := s.Save(ctx, "", p); err != nil {
			b.Fatal(err)
		}
	}
}

func benchStore(b *testing.B) (*Store, []string) {
	s, err := New(Config{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	ids := fill(b, s, benchSessions)
	b.ResetTimer()
	return s, ids
}

func BenchmarkLoad(b *testing.B) {
	s, ids := benchStore(b)
	for i := 0; b.Loop(); i++ {
		if _, ok, err := s.Load(ctx, ids[i%len(ids)]); !ok || err != nil {
			b.Fatal("Load failed", err)
		}
	}
}

// BenchmarkSave sets one key of an existing session, as a counter request
// does.
func BenchmarkSave(b *testing.B) {
	s, ids := benchStore(b)
	counterSaves(b, s, ids)
}

// counterSaves sets the counter of the sessions ids in turn, b.N times.
func counterSaves(b *testing.B, s *Store, ids []string) {
	for i := 0; b.Loop(); i++ {
		p := session.Patch{Now: time.Now(), Idle: time.Hour, Set: map[string][]byte{"counter": []byte(strconv.Itoa(i))}}
		if _, err := s.Save(ctx, ids[i%len(ids)], p); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkLoadParallel(b *testing.B) {
	s, ids := benchStore(b)
	var next atomic.Uint64
	b.RunParallel(func(pb *testing.PB) {
		i := next.Add(7919)
		for pb.Next() {
			i++
			if _, ok, err := s.Load(ctx, ids[i%uint64(len(ids))]); !ok || err != nil {
				b.Error("Load failed", err)
				return
			}
		}
	})
}

func BenchmarkSaveParallel(b *testing.B) {
	s, ids := benchStore(b)
	var next atomic.Uint64
	b.RunParallel(func(pb *testing.PB) {
		i := next.Add(7919)
		for pb.Next() {
			i++
			p := session.Patch{Now: time.Now(), Idle: time.Hour, Set: map[string][]byte{"counter": []byte("42")}}
			if _, err := s.Save(ctx, ids[i%uint64(len(ids))], p); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkHeapPerSession fills a store with b.N typical sessions and
// reports the live heap each one costs, the figure behind DESIGN.md's target
// of 1M sessions in 500 MB (run with -benchtime=1000000x).
func BenchmarkHeapPerSession(b *testing.B) {
	s, err := New(Config{MaxBytes: -1}) // b.N sessions, however many: no bound
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	ids := newIDs(b.N)
	before := liveHeap()
	fillIDs(b, s, ids)
	after := liveHeap()
	b.ReportMetric(float64(after-before)/float64(b.N), "heap-bytes/session")
	b.ReportMetric(float64(s.Stats().Bytes)/float64(b.N), "counted-bytes/session")
	runtime.KeepAlive(s)
}

func liveHeap() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// BenchmarkSaveLoggedIn is BenchmarkSave over sessions that have a
// principal, which the Store indexes (the principal index): a save whose
// patch leaves the principal leaves the index.
func BenchmarkSaveLoggedIn(b *testing.B) {
	s, ids := loggedInStore(b)
	counterSaves(b, s, ids)
}

// BenchmarkPrincipalSessions lists the 10 sessions of one of 1 000 users
// among 10 000 sessions (Manager.Sessions' store call).
func BenchmarkPrincipalSessions(b *testing.B) {
	s, _ := loggedInStore(b)
	for i := 0; b.Loop(); i++ {
		if recs, err := s.PrincipalSessions(ctx, principalOf(i%1000)); err != nil || len(recs) != 10 {
			b.Fatal(len(recs), err)
		}
	}
}

func principalOf(i int) string { return "user" + strconv.Itoa(i) + "@example.com" }

// loggedInStore is benchStore with sessions of 1 000 principals.
func loggedInStore(b *testing.B) (*Store, []string) {
	s, err := New(Config{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	ids := newIDs(benchSessions)
	now := time.Now()
	for i, id := range ids {
		vals := typicalValues()
		k, v := session.PrincipalValue(principalOf(i%1000), 7)
		vals[k] = v
		if _, err := s.Save(ctx, "", session.Patch{NewID: id, Now: now, Idle: time.Hour, Set: vals}); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	return s, ids
}
