package cluster_test

import (
	"testing"

	"github.com/sessionmesh/sessionmesh/cluster/clustertest"
	"github.com/sessionmesh/sessionmesh/internal/testutil"
)

// A fourth node joins three that hold sessions while users write: it
// pulls the partitions it will own before it is ready, the old owners
// copy it every write meanwhile, and once it serves nothing is lost, no
// request fails, and every session ends up on exactly N nodes (the old
// copies are handed off and dropped).
func TestJoinUnderWritersLosesNothing(t *testing.T) {
	scenario(t)
	c := clustertest.New(t, 3, patient())
	c.WaitConverged(converge)
	ids := createMany(t, c, 2000)
	l := startLoad(t, c, 12, true)
	l.advance(100)
	d := c.Add()
	if c.Store(d).Ready() {
		t.Fatal("the new node is ready before it has pulled anything")
	}
	c.WaitReplicated(converge)
	l.advance(200)
	l.check()
	if held := sessionsOf(t, c, d); held == 0 {
		t.Fatal("the new node holds no sessions after joining")
	}
	total := len(ids) + len(l.users)
	testutil.Eventually(t, converge, "every session is on exactly 2 nodes", func() bool { return sessionsHeld(t, c, 0) == 2*total })
	for i, id := range ids {
		if n, ok := value(t, c.Store(d), id, "n"); !ok || n != i {
			t.Fatalf("the new node reads session %d as n=%d found=%v", i, n, ok)
		}
	}
}

// sessionsOf returns the live sessions node i holds.
func sessionsOf(t testing.TB, c *clustertest.Cluster, i int) int {
	t.Helper()
	for _, m := range freshStatus(t, c, i).Members {
		if m.Name == c.Store(i).Name() {
			return m.Sessions
		}
	}
	t.Fatalf("node %d is missing from its own status", i)
	return 0
}
