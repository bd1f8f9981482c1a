package cluster_test

import (
	"testing"
	"time"

	"github.com/sessionmesh/sessionmesh/cluster"
	"github.com/sessionmesh/sessionmesh/cluster/clustertest"
)

// A node that finds a gap in its heartbeat longer than failure detection
// (it was paused, say by SIGSTOP) asks every member how long it has been
// a member there without a break. If every member kept it all along (the
// whole machine stalled), it goes on as before; if one lost sight of it
// (declared it dead and took over its partitions), it pulls its partitions
// again, serving from the newest copies meanwhile.
func TestPausedNodeResyncsOnlyIfItWasLost(t *testing.T) {
	clk := &skewClock{}
	c := clustertest.New(t, 3, clustertest.WithConfig(func(_ int, cfg *cluster.Config) {
		cfg.Now = clk.Now
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
	clk.Advance(time.Minute) // every member has had every other for a minute
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
	c.Store(0).Pause(10 * time.Second)
	value(t, c.Store(0), own, "n")
	if c.Store(0).Syncing() == 0 {
		t.Fatal("node 0 holds on to its partitions after a pause in which it was lost")
	}
	if got := sideOf(t, c.Store(0), ids[0]); got != "while node 0 was away" {
		t.Fatalf("node 0 reads %q while re-syncing", got)
	}
	c.WaitReplicated(converge)
}
