package memcache

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionmesh/sessionmesh/internal/servertest"
	"github.com/sessionmesh/sessionmesh/stores/internal/storetesting"
)

// TestSessionLocks: one holder per session at a time, other sessions
// unaffected, a waiter gives up with its context, and nothing stays in the
// map afterwards.
func TestSessionLocks(t *testing.T) {
	var l sessionLocks
	ctx := context.Background()
	var inside atomic.Int32
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 50 {
				unlock, err := l.lock(ctx, "a")
				if err != nil {
					t.Error(err)
					return
				}
				if n := inside.Add(1); n > 1 {
					t.Errorf("%d holders of one session's lock at once; want 1", n)
				}
				inside.Add(-1)
				unlock()
			}
		})
	}
	wg.Wait()

	unlockA, _ := l.lock(ctx, "a")
	unlockB, err := l.lock(ctx, "b") // another session does not wait
	if err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if _, err := l.lock(short, "a"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("waiting on a held lock past the deadline: %v; want DeadlineExceeded", err)
	}
	unlockA()
	unlockB()
	if len(l.held) != 0 {
		t.Fatalf("%d locks left in the map after every holder and waiter left", len(l.held))
	}
}

// TestConcurrentProcesses: two Stores on one memcached (two workers) patch
// one session concurrently; the CAS loop keeps every patch.
func TestConcurrentProcesses(t *testing.T) {
	srv := servertest.Memcached(t)
	stores := []*Store{open(t, Config{Servers: []string{srv.Addr()}}), open(t, Config{Servers: []string{srv.Addr()}})}
	now := time.Now()
	id := storetesting.Create(t, stores[0], storetesting.Patch(now, "base", "1"))
	var wg sync.WaitGroup
	for w, s := range stores {
		for g := range 3 {
			wg.Go(func() {
				for i := range 15 {
					key := fmt.Sprintf("w%d-g%d-%d", w, g, i)
					if _, err := s.Save(context.Background(), id, storetesting.Patch(now, key, "1")); err != nil {
						t.Errorf("Save %s: %v", key, err)
						return
					}
				}
			})
		}
	}
	wg.Wait()
	rec := storetesting.Load(t, stores[1], id)
	if len(rec.Values) != 1+2*3*15 || rec.Version != 1+2*3*15 {
		t.Fatalf("%d keys, version %d after 90 concurrent patches; want 91 and 91", len(rec.Values), rec.Version)
	}
}
