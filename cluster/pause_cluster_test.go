package cluster_test

import (
	"testing"
	"time"

	"github.com/sessionmesh/sessionmesh/cluster"
	"github.com/sessionmesh/sessionmesh/cluster/clustertest"
	"github.com/sessionmesh/sessionmesh/internal/testutil"
)

// A node that finds a gap in its heartbeat longer than failure detection
// (it was paused, say by SIGSTOP) asks every member how long it has been
// a member there without a break. If every member kept it all along (the
// whole machine stalled), it goes on as before; if one lost sight of it
// (declared it dead and took over its partitions), it pulls its partitions
// again, serving from the newest copies meanwhile.
func TestPausedNodeResyncsOnlyIfItWasLost(t *testing.T) {
	scenario(t)
	c := clustertest.New(t, 3, clustertest.WithConfig(func(_ int, cfg *cluster.Config) {
		cfg.PullPartitions = 64 // a re-sync takes many rounds, so it is seen
	}))
	c.WaitConverged(converge)
	ids := createMany(t, c, 300)
	var own string // a session node 0 is primary for: loading it runs there
	for _, id := range ids {
		if c.Owners(0, id)[0] == 0 {
			own = id
		}
	}
	for i := range 3 { // every member has had every other for a minute
		c.Store(i).Backdate(time.Minute)
	}
	c.Store(0).Pause(10 * time.Second)
	value(t, c.Store(0), own, "n") // served after the check of the pause
	if n := c.Store(0).Syncing(); n != 0 {
		t.Fatalf("node 0 re-syncs %d partitions after a pause nobody noticed", n)
	}

	c.Partition([]int{0}, []int{1, 2}) // the others lose sight of node 0 ...
	c.WaitConverged(converge)
	save(t, c.Store(1), ids[0], "while node 0 was away")
	c.Heal() // ... and take it back
	c.WaitReplicated(converge)
	// A pause longer than node 0 has been back: the others re-added it at
	// the heal, so they have not had it for the whole gap. (10 s, as above,
	// was shorter than the time from the heal to here on a busy machine.)
	c.Store(0).Pause(time.Hour)
	value(t, c.Store(0), own, "n")
	if c.Store(0).Syncing() == 0 {
		t.Fatal("node 0 holds on to its partitions after a pause in which it was lost")
	}
	if got := sideOf(t, c.Store(0), ids[0]); got != "while node 0 was away" {
		t.Fatalf("node 0 reads %q while re-syncing", got)
	}
	c.WaitReplicated(converge)
}

// A node cut off from the others for longer than failure detection is
// declared dead by them, who go on writing. When the network returns it
// may still count them as members (it had not given up on them yet), and
// its table may still name it primary; or it may have given up on them
// and be alone. Either way, with the quorum guard, a balancer that sends
// requests only to ready nodes never gets a stale copy from it: cut off,
// it is not ready (no member answers it, and it is in the minority), and
// whenever it reports ready after the heal it reads the newest copy.
func TestIsolatedNodeServesNothingStaleAfterHeal(t *testing.T) {
	scenario(t)
	c := clustertest.New(t, 3, clustertest.WithConfig(func(_ int, cfg *cluster.Config) {}))
	c.WaitConverged(converge)
	var id string
	for id == "" || c.Owners(0, id)[0] != 0 {
		id = create(t, c.Store(0), map[string]any{"side": "before"})
	}
	c.Partition([]int{0}, []int{1, 2})
	testutil.Eventually(t, converge, "the others declare node 0 dead", func() bool {
		_, in1 := c.Store(1).Table().Member(c.Store(0).Name())
		_, in2 := c.Store(2).Table().Member(c.Store(0).Name())
		return !in1 && !in2
	})
	if c.Store(0).Ready() {
		t.Error("node 0 reports ready while no other member answers it")
	}
	save(t, c.Store(1), id, "majority")
	c.Heal()
	readyReads := 0
	// Sampling, not waiting: the test reads node 0 each time it reports
	// ready before the cluster converges, and Ready changes without any
	// event to wait on (the end of a pause check is not a table change).
	for deadline := time.Now().Add(converge); !c.Converged(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("not converged after the heal")
		}
		if !c.Store(0).Ready() {
			continue
		}
		readyReads++
		if got := sideOf(t, c.Store(0), id); got != "majority" {
			t.Fatalf("after the heal node 0 reports ready and reads %q; want the write made while it was cut off", got)
		}
	}
	if got := sideOf(t, c.Store(0), id); got != "majority" {
		t.Fatalf("once converged node 0 reads %q; want majority", got)
	}
	t.Logf("node 0 was read %d times while ready before the cluster converged", readyReads)
}

// Users keep writing through the ready nodes while one node is cut off
// for longer than failure detection and then comes back, as in the
// compose disconnect step: the balancer cannot reach the cut-off node
// either, and sends it requests again once it is ready. No acknowledged
// write is lost, on either side, before, during or after the heal.
func TestCutOffNodeLosesNoWrites(t *testing.T) {
	scenario(t)
	c := clustertest.New(t, 3, clustertest.WithConfig(func(_ int, cfg *cluster.Config) {
		patientConfig(cfg) // no false deaths between the two that stay connected
	}))
	c.WaitConverged(converge)
	l := startLoad(t, c, 12, false)
	l.advance(100)
	l.remove(2) // the balancer is on the network too: it cannot reach node 2 either
	c.Partition([]int{0, 1}, []int{2})
	testutil.Eventually(t, converge, "the others declare node 2 dead", func() bool {
		_, in0 := c.Store(0).Table().Member(c.Store(2).Name())
		_, in1 := c.Store(1).Table().Member(c.Store(2).Name())
		return !in0 && !in1
	})
	l.advance(100)
	c.Heal()
	l.restore(2)
	c.WaitConverged(converge)
	l.advance(100)
	l.check()
}
