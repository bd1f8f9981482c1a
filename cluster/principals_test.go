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

// The sessions of a user in a 3-node cluster, spread over every node's
// partitions, are all listed from any node; with one node killed (before
// the others noticed, and after) the listing is still complete, since
// the other replica of each of its partitions answers; DestroyPrincipal
// then deletes every one through the routed Delete, so that no node
// lists or loads any of them, and other users' sessions stay.
func TestPrincipalSessionsAcrossACrash(t *testing.T) {
	scenario(t)
	c := clustertest.New(t, 3, patient())
	c.WaitConverged(converge)
	ctx := context.Background()
	alice := createOf(t, c, "alice", 120)
	bob := createOf(t, c, "bob", 5)
	c.WaitReplicated(converge)
	primaries := map[int]bool{}
	for _, id := range alice {
		primaries[c.Owners(0, id)[0]] = true
	}
	if len(primaries) != 3 {
		t.Fatalf("alice's sessions have primaries on nodes %v; want all three", primaries)
	}
	for i := range 3 {
		wantListed(t, c.Store(i), "alice", len(alice))
	}

	c.Kill(2)
	wantListed(t, c.Store(0), "alice", len(alice)) // node 2 does not answer; its partitions' backups do
	c.WaitConverged(converge)
	wantListed(t, c.Store(1), "alice", len(alice))

	m, err := session.NewManager(session.DefaultConfig(c.Store(1)))
	if err != nil {
		t.Fatal(err)
	}
	n, err := m.DestroyPrincipal(ctx, "alice")
	if err != nil || n != len(alice) {
		t.Fatalf("DestroyPrincipal = %d, %v; want %d, nil", n, err, len(alice))
	}
	for _, i := range c.Alive() {
		wantListed(t, c.Store(i), "alice", 0)
		for _, id := range alice {
			if _, found, err := c.Store(i).Load(ctx, id); found || err != nil {
				t.Fatalf("node %d loads destroyed session %s: found=%v err=%v", i, id, found, err)
			}
		}
	}
	wantListed(t, c.Store(0), "bob", len(bob))
}

// With two of three nodes cut off, the one left holds only some
// partitions completely: the listing fails, naming the members that did
// not answer, rather than returning part of the sessions.
func TestPrincipalSessionsIncompleteFails(t *testing.T) {
	scenario(t)
	c := clustertest.New(t, 3, patient())
	c.WaitConverged(converge)
	createOf(t, c, "alice", 30)
	c.WaitReplicated(converge)
	c.BlockPeer(0, 1)
	c.BlockPeer(0, 2)
	_, err := c.Store(0).PrincipalSessions(context.Background(), "alice")
	if !errors.Is(err, cluster.ErrUnavailable) || !strings.Contains(err.Error(), c.Store(1).Name()) || !strings.Contains(err.Error(), c.Store(2).Name()) {
		t.Fatalf("listing with two members unreachable: %v; want ErrUnavailable naming both", err)
	}
}

// createOf creates n sessions of principal p, from each node in turn.
func createOf(t *testing.T, c *clustertest.Cluster, p string, n int) []string {
	t.Helper()
	k, v := session.PrincipalValue(p, 0)
	ids := make([]string, n)
	for i := range ids {
		patch := set(map[string]any{"n": i})
		patch.Set[k] = v
		patch.NewID = session.NewID()
		if _, err := c.Store(i%c.Len()).Save(context.Background(), "", patch); err != nil {
			t.Fatalf("create session %d of %s: %v", i, p, err)
		}
		ids[i] = patch.NewID
	}
	return ids
}

// wantListed asserts that st lists n live sessions of p, each of p.
func wantListed(t *testing.T, st *cluster.Store, p string, n int) {
	t.Helper()
	recs, err := st.PrincipalSessions(context.Background(), p)
	if err != nil {
		t.Fatalf("%s: PrincipalSessions(%s): %v", st.Name(), p, err)
	}
	for _, r := range recs {
		if got := session.PrincipalOf(r.Values); got != p {
			t.Fatalf("%s: a session of %q listed for %q", st.Name(), got, p)
		}
	}
	if len(recs) != n {
		t.Fatalf("%s: %d sessions of %s listed; want %d", st.Name(), len(recs), p, n)
	}
}
