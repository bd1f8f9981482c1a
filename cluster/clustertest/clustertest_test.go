package clustertest_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/sessionmesh/sessionmesh/cluster/clustertest"
	"github.com/sessionmesh/sessionmesh/session"
)

func TestMain(m *testing.M) {
	// memberlist's Shutdown does not wait for a probe in progress or an
	// indirect probe it answers; both end by themselves shortly after.
	goleak.VerifyTestMain(m,
		goleak.IgnoreAnyFunction("github.com/hashicorp/memberlist.(*Memberlist).triggerFunc"),
		goleak.IgnoreTopFunction("github.com/hashicorp/memberlist.(*Memberlist).handleIndirectPing.func2"))
}

func members(c *clustertest.Cluster, i int) int { return len(c.Store(i).Table().Members()) }

func TestPartitionHealKill(t *testing.T) {
	scenario(t)
	c := clustertest.New(t, 3)
	c.WaitConverged(converge)
	c.Partition([]int{0}, []int{1, 2})
	c.WaitConverged(converge)
	if members(c, 0) != 1 || members(c, 1) != 2 || members(c, 2) != 2 {
		t.Fatalf("after Partition({0},{1,2}) nodes see %d, %d, %d members; want 1, 2, 2", members(c, 0), members(c, 1), members(c, 2))
	}
	c.Heal()
	c.WaitConverged(converge)
	if members(c, 0) != 3 {
		t.Fatalf("after Heal node 0 sees %d members; want 3", members(c, 0))
	}
	c.Kill(2)
	c.Kill(2) // idempotent
	c.WaitConverged(converge)
	if !slices.Equal(c.Alive(), []int{0, 1}) || members(c, 0) != 2 {
		t.Fatalf("after Kill(2): alive %v, node 0 sees %d members", c.Alive(), members(c, 0))
	}
	if _, _, err := c.Store(2).Load(context.Background(), session.NewID()); err == nil {
		t.Fatal("a killed node still serves")
	}
}

// remoteSession creates a session on node 1 whose primary is node 1.
func remoteSession(t *testing.T, c *clustertest.Cluster) string {
	for {
		p := session.Patch{NewID: session.NewID(), Now: time.Now(), Idle: time.Hour}
		if c.Owners(0, p.NewID)[0] != 1 {
			continue
		}
		if _, err := c.Store(1).Save(context.Background(), "", p); err != nil {
			t.Fatal(err)
		}
		return p.NewID
	}
}

func TestDelayAndDrop(t *testing.T) {
	scenario(t)
	c := clustertest.New(t, 2)
	c.WaitConverged(converge)
	id := remoteSession(t, c)

	c.Delay(0, 1, 150*time.Millisecond)
	start := time.Now()
	if _, found, err := c.Store(0).Load(context.Background(), id); !found || err != nil {
		t.Fatalf("delayed load: %v %v", found, err)
	}
	if d := time.Since(start); d < 150*time.Millisecond {
		t.Fatalf("load over a 150ms delay took %v", d)
	}

	c.Heal()
	c.Drop(0, 1, 1)
	// Node 0 gets no answer from the primary and fails over to itself,
	// the backup, which holds the copy.
	if _, found, err := c.Store(0).Load(context.Background(), id); !found || err != nil {
		t.Fatalf("load with every message to the primary dropped: %v %v", found, err)
	}
}

// BlockPeer fails session traffic between two nodes at once while their
// gossip goes on: both stay members, and a load through one of a session
// whose primary is the other fails over to the backup.
func TestBlockPeer(t *testing.T) {
	c := clustertest.New(t, 3)
	c.WaitConverged(converge)
	id := remoteSession(t, c)
	c.BlockPeer(0, 1)
	if _, found, err := c.Store(0).Load(context.Background(), id); !found || err != nil {
		t.Fatalf("load with the primary blocked: %v %v", found, err)
	}
	if members(c, 0) != 3 || members(c, 1) != 3 {
		t.Fatalf("blocked nodes see %d and %d members; want 3 (gossip untouched)", members(c, 0), members(c, 1))
	}
	c.Heal()
}

// Drain takes a node out gracefully: it no longer counts as alive, the
// others see it leave, and WaitReplicated finds every partition with N
// copies on the two left.
func TestDrainAndWaitReplicated(t *testing.T) {
	c := clustertest.New(t, 3)
	c.WaitConverged(converge)
	id := remoteSession(t, c)
	if err := c.Drain(context.Background(), 1); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(c.Alive(), []int{0, 2}) {
		t.Fatalf("alive after Drain(1): %v", c.Alive())
	}
	c.WaitReplicated(converge)
	if _, found, err := c.Store(2).Load(context.Background(), id); !found || err != nil {
		t.Fatalf("the drained node's session: %v %v", found, err)
	}
}

// converge is the budget of waits that end on an event: long, so that a
// loaded machine delays a test rather than failing it.
const converge = time.Minute

// scenario marks a test that runs a cluster through failure detection on
// real timers: seconds each. go test -short skips it; scripts/test.sh runs
// it.
func scenario(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("a multi-node scenario on real timers; run without -short (scripts/test.sh)")
	}
}
