package cluster_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/sessionmesh/sessionmesh/cluster"
	"github.com/sessionmesh/sessionmesh/cluster/clustertest"
	"github.com/sessionmesh/sessionmesh/session"
)

// Count is the number of sessions, not of copies, and Iterate walks each
// session once: the same from every node of three, though each holds
// about two thirds of them twice over; a deleted session is not there;
// with a node killed the other replicas of its partitions answer for
// them; with the last other member cut off too both fail, naming it.
func TestCountAndIterateSeeSessionsNotCopies(t *testing.T) {
	scenario(t)
	c := clustertest.New(t, 3, patient())
	c.WaitConverged(converge)
	ctx := context.Background()
	ids := createOf(t, c, "alice", 90)
	for _, id := range ids[:10] {
		if err := c.Store(0).Delete(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	c.WaitReplicated(converge)
	walk := func(i int, what string) {
		t.Helper()
		seen := map[string]int{}
		if err := c.Store(i).Iterate(ctx, func(rec session.Record) bool { seen[rec.ID]++; return true }); err != nil {
			t.Fatalf("Iterate on node %d %s: %v", i, what, err)
		}
		for k, id := range ids {
			want := 1
			if k < 10 { // deleted
				want = 0
			}
			if seen[id] != want {
				t.Fatalf("Iterate on node %d %s saw session %d %d times; want %d", i, what, k, seen[id], want)
			}
		}
		if len(seen) != 80 {
			t.Fatalf("Iterate on node %d %s saw %d sessions; want the 80 left", i, what, len(seen))
		}
	}
	for i := range 3 {
		if n, err := c.Store(i).Count(ctx); err != nil || n != 80 {
			t.Fatalf("Count on node %d = %d, %v; want the 80 sessions left", i, n, err)
		}
		walk(i, "")
	}

	c.Kill(2)
	if n, err := c.Store(0).Count(ctx); err != nil || n != 80 {
		t.Fatalf("Count with node 2 killed = %d, %v; want 80 from the other replicas", n, err)
	}
	walk(0, "with node 2 killed")
	c.BlockPeer(0, 1)
	if _, err := c.Store(0).Count(ctx); !errors.Is(err, cluster.ErrUnavailable) || !strings.Contains(err.Error(), c.Store(1).Name()) {
		t.Fatalf("Count with both other members unreachable: %v; want ErrUnavailable naming %s", err, c.Store(1).Name())
	}
	err := c.Store(0).Iterate(ctx, func(session.Record) bool { return true })
	if !errors.Is(err, cluster.ErrUnavailable) || !strings.Contains(err.Error(), c.Store(1).Name()) {
		t.Fatalf("Iterate with both other members unreachable: %v; want ErrUnavailable naming %s", err, c.Store(1).Name())
	}
}
