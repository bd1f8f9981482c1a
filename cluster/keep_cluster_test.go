package cluster_test

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/sessionmesh/sessionmesh/cluster"
	"github.com/sessionmesh/sessionmesh/cluster/clustertest"
	"github.com/sessionmesh/sessionmesh/internal/testutil"
	"github.com/sessionmesh/sessionmesh/session"
)

// Saves of one session from every node at once: the backup's own saves
// cost the primary no put (the backup keeps the copy it is answered
// with), every acknowledged write is in both owners' copies, and the two
// copies end equal, however the backup's kept copies and the primary's
// puts of the other nodes' writes interleaved.
func TestConcurrentSavesKeepBothOwnersEqual(t *testing.T) {
	const saves = 30
	var puts atomic.Int64
	var backupAddr atomic.Value
	backupAddr.Store("")
	c := clustertest.New(t, 3, clustertest.WithConfig(func(i int, cfg *cluster.Config) {
		patientConfig(cfg) // 90 saves at once under -race on a busy machine: slow calls are not what this is about
		wrap := cfg.WrapCaller
		cfg.WrapCaller = func(inner cluster.Caller) cluster.Caller {
			next := wrap(inner)
			return cluster.CallerFunc(func(ctx context.Context, addr string, op uint8, body []byte) ([]byte, error) {
				if op == opPut && addr == backupAddr.Load() {
					puts.Add(1)
				}
				return next.Call(ctx, addr, op, body)
			})
		}
	}))
	c.WaitConverged(converge)
	id := create(t, c.Store(0), map[string]any{"n": 0})
	own := c.Owners(0, id)
	primary, backup := own[0], own[1]
	backupAddr.Store(c.Store(backup).Addr())
	var wg sync.WaitGroup
	for i := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range saves {
				p := set(map[string]any{"k" + strconv.Itoa(i): j})
				if _, err := c.Store(i).Save(context.Background(), id, p); err != nil {
					t.Errorf("node %d save %d: %v", i, j, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if n := puts.Load(); n > 2*saves {
		t.Errorf("%d puts reached the backup for %d saves of which %d were its own; want at most %d", n, 3*saves, saves, 2*saves)
	}
	copyOf := func(i int) session.Record {
		rec, ok := c.Store(i).Copy(id)
		if !ok {
			t.Fatalf("node %d holds no copy", i)
		}
		return rec
	}
	testutil.Eventually(t, converge, "the owners' copies agree", func() bool {
		return copyOf(primary).Version == copyOf(backup).Version
	})
	for _, i := range []int{primary, backup} {
		rec := copyOf(i)
		for k := range 3 {
			if got := string(rec.Values["k"+strconv.Itoa(k)]); got != fmt.Sprint(saves-1) {
				t.Fatalf("node %d (owner) has k%d=%s v%d; want %d", i, k, got, rec.Version, saves-1)
			}
		}
	}
}

// opPut is the peer operation that replicates a copy (messages.go).
const opPut = 5
