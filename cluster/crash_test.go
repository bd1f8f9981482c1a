package cluster_test

import (
	"testing"
	"time"

	"github.com/sessionmesh/sessionmesh/cluster"
	"github.com/sessionmesh/sessionmesh/cluster/clustertest"
)

// When one of three nodes crashes, the survivors take over its
// partitions and pull the copies they now lack, PullPartitions at a time;
// UnderReplicated shows the missing copies until every partition has N
// again, and writers lose nothing meanwhile. Then each survivor alone
// (cut from the other) still serves every session: both hold them all.
func TestCrashReReplicatesEverySession(t *testing.T) {
	scenario(t)
	c := clustertest.New(t, 3, patient(), clustertest.WithConfig(func(_ int, cfg *cluster.Config) {
		cfg.PullPartitions = 256  // several rounds, so the gauge is seen above 0
		cfg.AvailableFirst = true // so that each survivor serves alone at the end: that shows it holds every session
	}))
	c.WaitConverged(converge)
	ids := createMany(t, c, 10000)
	l := startLoad(t, c, 6, false)
	l.advance(50)
	c.Kill(2)
	// Watch the gauge from the kill until the survivors are back to N
	// copies of everything.
	short, deadline := 0, time.Now().Add(converge)
	for !c.Converged() || sumShort(c) > 0 {
		short = max(short, sumShort(c))
		if time.Now().After(deadline) {
			t.Fatalf("not re-replicated after %v: %d copies short", converge, sumShort(c))
		}
		time.Sleep(time.Millisecond)
	}
	if short == 0 {
		t.Error("UnderReplicated never showed the copies lost with the crashed node")
	}
	if st := c.Store(0).Status(t.Context()); st.UnderReplicated != 0 {
		t.Errorf("Status.UnderReplicated = %d after re-replication; want 0", st.UnderReplicated)
	}
	l.advance(50)
	l.check()
	total := len(ids) + len(l.users)
	for _, i := range c.Alive() {
		if n := sessionsOf(t, c, i); n != total {
			t.Errorf("survivor %d holds %d sessions; want all %d", i, n, total)
		}
	}
	c.Partition([]int{0}, []int{1})
	c.WaitConverged(converge)
	for _, i := range c.Alive() {
		for k, id := range ids {
			if n, ok := value(t, c.Store(i), id, "n"); !ok || n != k {
				t.Fatalf("survivor %d alone reads session %d as n=%d found=%v", i, k, n, ok)
			}
		}
	}
}

// sumShort sums UnderReplicated over the live nodes.
func sumShort(c *clustertest.Cluster) int {
	n := 0
	for _, i := range c.Alive() {
		n += c.Store(i).UnderReplicated()
	}
	return n
}
