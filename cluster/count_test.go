package cluster_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/sessionmesh/sessionmesh/cluster"
	"github.com/sessionmesh/sessionmesh/cluster/clustertest"
)

// Count is the number of sessions, not of copies: the same from every
// node of three, though each holds about two thirds of them twice over;
// a deleted session no longer counts; with a node killed the other
// replicas of its partitions answer for them; with the last other member
// cut off too it fails, naming it.
func TestCountCountsSessionsNotCopies(t *testing.T) {
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
	for i := range 3 {
		if n, err := c.Store(i).Count(ctx); err != nil || n != 80 {
			t.Fatalf("Count on node %d = %d, %v; want the 80 sessions left", i, n, err)
		}
	}

	c.Kill(2)
	if n, err := c.Store(0).Count(ctx); err != nil || n != 80 {
		t.Fatalf("Count with node 2 killed = %d, %v; want 80 from the other replicas", n, err)
	}
	c.BlockPeer(0, 1)
	if _, err := c.Store(0).Count(ctx); !errors.Is(err, cluster.ErrUnavailable) || !strings.Contains(err.Error(), c.Store(1).Name()) {
		t.Fatalf("Count with both other members unreachable: %v; want ErrUnavailable naming %s", err, c.Store(1).Name())
	}
}
