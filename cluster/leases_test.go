package cluster_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionmesh/sessionmesh/cluster"
	"github.com/sessionmesh/sessionmesh/cluster/clustertest"
	"github.com/sessionmesh/sessionmesh/internal/testutil"
)

// noLeases turns backup reads off, for tests of how loads are routed.
var noLeases = clustertest.WithConfig(func(_ int, c *cluster.Config) { c.ReadLease = -1 })

// leaseReads returns how many loads node i served under a read lease.
func leaseReads(c *clustertest.Cluster, i int) uint64 { return c.Store(i).Stats().LeaseReads }

// waitLeaseRead loads id at node i until the load is served under a
// lease (the backup asks for one every ReadLease/3) and returns the
// value it read.
func waitLeaseRead(t *testing.T, c *clustertest.Cluster, i int, id string) int {
	t.Helper()
	var n int
	testutil.Eventually(t, converge, fmt.Sprintf("node %d to serve a load of %s under a read lease", i, id), func() bool {
		before := leaseReads(c, i)
		var found bool
		if n, found = value(t, c.Store(i), id, "n"); !found {
			t.Fatalf("node %d: session %s not found", i, id)
		}
		return leaseReads(c, i) > before
	})
	return n
}

// sessionOn creates sessions through node 0 until one has primary
// primary and backup backup in node 0's table.
func sessionOn(t *testing.T, c *clustertest.Cluster, primary, backup int) string {
	t.Helper()
	for range 1000 {
		id := create(t, c.Store(0), map[string]any{"n": 1})
		if own := c.Owners(0, id); own[0] == primary && own[1] == backup {
			return id
		}
	}
	t.Fatalf("no session with primary %d and backup %d in 1000", primary, backup)
	return ""
}

func saveN(t *testing.T, st *cluster.Store, id string, n int) {
	t.Helper()
	if _, err := st.Save(context.Background(), id, set(map[string]any{"n": n})); err != nil {
		t.Fatalf("save n=%d through %s: %v", n, st.Name(), err)
	}
}

// A backup with a lease serves loads from its own copy, without a peer
// call, and every write acknowledged through any node is in what it
// serves at once. (A busy machine may delay a renewal past the lease:
// those loads go to the primary; the rounds repeat until some were served
// under the lease.)
func TestBackupServesLoadsUnderALease(t *testing.T) {
	var calls atomic.Int64
	c := clustertest.New(t, 3, countCalls(&calls, func(i int, op uint8) bool { return i == 0 && op == opLoad }),
		clustertest.WithConfig(func(_ int, cfg *cluster.Config) { cfg.CallTimeout, cfg.ReadLease = 4*time.Second, time.Second }))
	c.WaitReplicated(converge)
	id := sessionOn(t, c, 1, 0)
	n := 1
	for round := 0; ; round++ {
		waitLeaseRead(t, c, 0, id)
		before, leased := calls.Load(), leaseReads(c, 0)
		for range 20 {
			n++
			saveN(t, c.Store(n%3), id, n)
			if got, _ := value(t, c.Store(0), id, "n"); got != n {
				t.Fatalf("the backup read n=%d right after n=%d was acknowledged", got, n)
			}
		}
		served, called := leaseReads(c, 0)-leased, calls.Load()-before
		if served+uint64(called) < 20 {
			t.Fatalf("20 loads at the backup: %d under the lease, %d peer calls", served, called)
		}
		if served > 0 {
			return
		}
		if round == 10 {
			t.Fatalf("10 rounds of 20 loads at the backup, none under its lease")
		}
	}
}

// A backup the primary cannot reach misses writes; the primary ends the
// backup's lease before it acknowledges one (it waits the lease out, as
// the backup does not answer), so the backup never serves what it
// missed: its loads go to the primary, and it gets a lease for the
// partition again only after pulling it anew.
func TestBackupThatMissesAWriteServesNoStaleRead(t *testing.T) {
	c := clustertest.New(t, 3)
	c.WaitReplicated(converge)
	id := sessionOn(t, c, 1, 2)
	if n := waitLeaseRead(t, c, 2, id); n != 1 {
		t.Fatalf("read n=%d; want 1", n)
	}
	c.BlockPeer(1, 2) // the primary's puts to the backup fail; the backup still reaches the primary
	for n := 2; n < 10; n++ {
		saveN(t, c.Store(n%2), id, n) // through the primary and through node 0
		if got, _ := value(t, c.Store(2), id, "n"); got != n {
			t.Fatalf("the backup cut off from its primary read n=%d after n=%d was acknowledged", got, n)
		}
	}
	if r := c.Store(1).Stats().LeaseRevocations; r == 0 {
		t.Fatal("the primary acknowledged writes the backup missed without ending its lease")
	}
	c.Heal()
	if n := waitLeaseRead(t, c, 2, id); n != 9 {
		t.Fatalf("after the heal the backup read n=%d under a new lease; want 9", n)
	}
}

// freshness runs writers and readers on every live node until stop: each
// writer saves increasing values of its own session and records what was
// acknowledged; a load that starts after an acknowledgement must see that
// value or a later one. It returns the failures and counts the reads.
type freshness struct {
	c     *clustertest.Cluster
	ids   []string
	acked []atomic.Int64
	reads atomic.Int64
	mu    sync.Mutex
	stale []string
}

func newFreshness(t *testing.T, c *clustertest.Cluster, sessions int) *freshness {
	f := &freshness{c: c, acked: make([]atomic.Int64, sessions)}
	for range sessions {
		f.ids = append(f.ids, create(t, c.Store(0), map[string]any{"n": 0}))
	}
	return f
}

func (f *freshness) run(stop <-chan struct{}, wg *sync.WaitGroup) {
	for k := range f.ids {
		wg.Add(1)
		go func() { // the writer of session k
			defer wg.Done()
			for n := 1; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				alive := f.c.Alive()
				st := f.c.Store(alive[n%len(alive)])
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
				_, err := st.Save(ctx, f.ids[k], set(map[string]any{"n": n}))
				cancel()
				if err == nil {
					f.acked[k].Store(int64(n))
				} else {
					n-- // not acknowledged: may or may not be there; the next write overwrites it
				}
			}
		}()
	}
	wg.Add(1)
	go func() { // readers on every live node, round-robin
		defer wg.Done()
		for r := 0; ; r++ {
			select {
			case <-stop:
				return
			default:
			}
			alive := f.c.Alive()
			// Every pair of node and session in turn: with r alone picking
			// both, four nodes and eight sessions would pair each node with
			// the same two sessions for good, none of which it may back up.
			i := alive[r%len(alive)]
			k := r / len(alive) % len(f.ids)
			floor := f.acked[k].Load()
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			rec, found, err := f.c.Store(i).Load(ctx, f.ids[k])
			cancel()
			if err != nil || !found {
				continue // unavailable is allowed; stale is not
			}
			f.reads.Add(1)
			var n int64
			fmt.Sscan(string(rec.Values["n"]), &n)
			if n < floor {
				f.mu.Lock()
				f.stale = append(f.stale, fmt.Sprintf("node %d read n=%d of session %d after n=%d was acknowledged", i, n, k, floor))
				f.mu.Unlock()
			}
		}
	}()
}

func (f *freshness) check(t *testing.T) {
	t.Helper()
	if f.reads.Load() == 0 {
		t.Fatal("no load succeeded")
	}
	if len(f.stale) > 0 {
		t.Fatalf("%d stale reads, the first: %s", len(f.stale), f.stale[0])
	}
}

// While a node joins (taking partitions whose backups hold leases) and
// one crashes, no load anywhere returns less than a write acknowledged
// before it began. (Cut links are TestBackupThatMissesAWriteServesNoStaleRead's:
// a peer link cut one way also makes writers fail over to an acting
// primary, and the primary serves without such a write until its hinted
// copy comes back, with or without leases.)
func TestNoStaleReadThroughJoinsAndCrashes(t *testing.T) {
	c := clustertest.New(t, 3)
	c.WaitReplicated(converge)
	f := newFreshness(t, c, 8)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	f.run(stop, &wg)
	allLeaseReads := func() (n uint64) {
		for _, i := range c.Alive() {
			n += leaseReads(c, i)
		}
		return n
	}
	waitLeaseReads := func(what string) {
		t.Helper()
		start := allLeaseReads()
		testutil.Eventually(t, converge, what+": backups to serve loads under leases", func() bool { return allLeaseReads() > start+20 })
	}
	waitLeaseReads("start")
	c.Add()
	c.WaitReplicated(converge)
	waitLeaseReads("after a join")
	c.Kill(1)
	c.WaitReplicated(converge)
	waitLeaseReads("after a crash")
	close(stop)
	wg.Wait()
	f.check(t)
}
