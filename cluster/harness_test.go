package cluster_test

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionmesh/sessionmesh/cluster"
	"github.com/sessionmesh/sessionmesh/cluster/clustertest"
	"github.com/sessionmesh/sessionmesh/internal/testutil"
	"github.com/sessionmesh/sessionmesh/session"
)

// A partition splits membership on both sides; after Heal the halves find
// each other again (by gossip or, once the dead-node timeout has reaped
// the other side, by re-joining the seeds), and sessions written on the
// majority side during the split are readable everywhere.
func TestPartitionAndHeal(t *testing.T) {
	scenario(t)
	c := clustertest.New(t, 3)
	c.WaitConverged(converge)
	c.Partition([]int{0, 1}, []int{2})
	c.WaitConverged(converge)
	if n := len(c.Store(2).Table().Members()); n != 1 {
		t.Fatalf("the minority sees %d members; want 1", n)
	}
	id := create(t, c.Store(0), map[string]any{"n": 5})
	c.Heal()
	c.WaitConverged(converge)
	if fp := c.Store(0).Table().Fingerprint(); c.Store(2).Table().Fingerprint() != fp {
		t.Fatal("healed nodes disagree on the table")
	}
	// The session lives on the two nodes that were together; whichever
	// node is its primary now, every node reads it (by recovery if needed).
	for i := 0; i < 3; i++ {
		if n, ok := value(t, c.Store(i), id, "n"); !ok || n != 5 {
			t.Fatalf("node %d reads n=%d found=%v after heal; want 5", i, n, ok)
		}
	}
}

// Concurrent loads of one remote session from one node share one peer
// call (singleflight).
func TestConcurrentRemoteLoadsCollapse(t *testing.T) {
	var loads atomic.Int64
	c := clustertest.New(t, 2, noLeases, countCalls(&loads, func(_ int, op uint8) bool { return op == opLoad }))
	c.WaitConverged(converge)
	var id string
	for id == "" || c.Owners(0, id)[0] != 1 {
		id = create(t, c.Store(1), map[string]any{"n": 1})
	}
	c.Delay(0, 1, 100*time.Millisecond) // keep the first flight in the air
	var wg sync.WaitGroup
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, found, err := c.Store(0).Load(context.Background(), id); !found || err != nil {
				t.Errorf("load: %v %v", found, err)
			}
		}()
	}
	wg.Wait()
	if n := loads.Load(); n > 3 {
		t.Fatalf("20 concurrent loads made %d peer calls; want them collapsed", n)
	}
}

// Status reports every member with its partitions and session counts,
// fetched from the other nodes.
func TestStatus(t *testing.T) {
	scenario(t)
	c := clustertest.New(t, 3)
	c.WaitConverged(converge)
	ids := make([]string, 30)
	for i := range ids {
		ids[i] = create(t, c.Store(i%3), map[string]any{"n": i})
	}
	c.Store(1).Delete(context.Background(), ids[0])
	// Counts come from each member's last full scan (its anti-entropy
	// round), so wait for one that saw every write.
	written := time.Now()
	testutil.Eventually(t, converge, "every member counts after the writes", func() bool {
		for _, m := range c.Store(0).Status(context.Background()).Members {
			if m.CountedAt.Before(written) {
				return false
			}
		}
		return true
	})
	st := c.Store(0).Status(context.Background())
	if st.Node != c.Store(0).Name() || st.Epoch == 0 || st.Partitions != 4096 || st.Replicas != 2 || len(st.Members) != 3 {
		t.Fatalf("status header: %+v", st)
	}
	sessions, tombstones, primaries, backups := 0, 0, 0, 0
	for _, m := range st.Members {
		if m.Error != "" {
			t.Fatalf("member %s: %s", m.Name, m.Error)
		}
		sessions += m.Sessions
		tombstones += m.Tombstones
		primaries += len(m.Primary)
		backups += len(m.Backup)
	}
	if sessions != 2*29 || tombstones != 2 || primaries != 4096 || backups != 4096 {
		t.Fatalf("status totals: sessions=%d tombstones=%d primary=%d backup=%d; want 58, 2, 4096, 4096", sessions, tombstones, primaries, backups)
	}
	for _, id := range ids {
		owner := c.Store(2).Owner(id)
		i := slices.IndexFunc(st.Members, func(m cluster.MemberStatus) bool { return m.Name == owner })
		if i < 0 || !slices.Contains(st.Members[i].Primary, c.Store(0).Table().Partition(id)) {
			t.Fatalf("Owner(%s) = %s, which is not primary of its partition in Status", id, owner)
		}
	}
}

// A primary that holds its partition is the authority for it: loading an
// unknown ID there costs no peer call (before partitions were pulled, a
// miss asked every other replica). Remote loads take exactly the one call
// to the primary.
func TestUnknownIDCostsOnePeerCallAtMost(t *testing.T) {
	var calls atomic.Int64
	c := clustertest.New(t, 3, noLeases, countCalls(&calls, func(i int, op uint8) bool { return i == 0 && op == opLoad || op == opFetch }))
	c.WaitConverged(converge)
	local, remote := 0, 0
	for local < 20 || remote < 20 {
		id := session.NewID()
		before := calls.Load()
		if _, found, err := c.Store(0).Load(context.Background(), id); found || err != nil {
			t.Fatalf("unknown ID: found=%v err=%v", found, err)
		}
		want := int64(1)
		if c.Owners(0, id)[0] == 0 {
			want, local = 0, local+1
		} else {
			remote++
		}
		if got := calls.Load() - before; got != want {
			t.Fatalf("loading an unknown ID (primary node %d) made %d peer calls; want %d", c.Owners(0, id)[0], got, want)
		}
	}
}

// countCalls counts in n the peer calls that node i makes with op, for
// which counts(i, op) holds.
func countCalls(n *atomic.Int64, counts func(i int, op uint8) bool) clustertest.Option {
	return clustertest.WithConfig(func(i int, cfg *cluster.Config) {
		wrap := cfg.WrapCaller
		cfg.WrapCaller = func(inner cluster.Caller) cluster.Caller {
			next := wrap(inner)
			return cluster.CallerFunc(func(ctx context.Context, addr string, op uint8, body []byte) ([]byte, error) {
				if counts(i, op) {
					n.Add(1)
				}
				return next.Call(ctx, addr, op, body)
			})
		}
	})
}

// opFetch is the peer operation that reads one node's copy (messages.go).
const opFetch = 6
