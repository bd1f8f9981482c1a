package cluster_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/sessionmesh/sessionmesh/cluster"
	"github.com/sessionmesh/sessionmesh/cluster/clustertest"
	"github.com/sessionmesh/sessionmesh/internal/testutil"
	"github.com/sessionmesh/sessionmesh/session"
)

// newIDOwnedElsewhere returns a fresh ID whose primary differs from id's.
func newIDOwnedElsewhere(c *clustertest.Cluster, id string) string {
	for {
		n := session.NewID()
		if c.Owners(0, n)[0] != c.Owners(0, id)[0] {
			return n
		}
	}
}

// Renew across partitions: the new ID is written before the old one is
// buried, so a patch racing with the renew either lands in the new session
// or fails with session.ErrNotFound; none is acknowledged and lost.
func TestRenewAcrossPartitionsKeepsRacingPatches(t *testing.T) {
	c := clustertest.New(t, 3)
	c.WaitConverged(converge)
	for round := 0; round < 5; round++ {
		old := create(t, c.Store(0), map[string]any{"k": 0, "user": round})
		fresh := newIDOwnedElsewhere(c, old)
		var acked atomic.Int64
		var wg sync.WaitGroup
		wg.Add(1)
		go func() { // patch the old ID until it is gone
			defer wg.Done()
			for n := 1; ; n++ {
				_, err := c.Store(1).Save(context.Background(), old, set(map[string]any{"k": n}))
				if errors.Is(err, session.ErrNotFound) {
					return
				}
				if err != nil {
					t.Errorf("patch old ID: %v", err)
					return
				}
				acked.Store(int64(n))
			}
		}()
		// Vary where the renew lands among the patches.
		testutil.Eventually(t, converge, "patches of the old ID land", func() bool { return acked.Load() >= int64(round*3) })
		p := set(map[string]any{"renewed": true})
		p.NewID = fresh
		if tok, err := c.Store(2).Save(context.Background(), old, p); err != nil || tok != fresh {
			t.Fatalf("renew: %q, %v", tok, err)
		}
		wg.Wait()
		for i := 0; i < 3; i++ {
			if n, ok := value(t, c.Store(i), fresh, "k"); !ok || int64(n) != acked.Load() {
				t.Errorf("round %d node %d: new ID has k=%d found=%v; last acknowledged patch of the old ID was %d", round, i, n, ok, acked.Load())
			}
			if _, found, _ := c.Store(i).Load(context.Background(), old); found {
				t.Errorf("round %d node %d: the old ID still loads after renew", round, i)
			}
		}
	}
}

// Delete leaves a tombstone on every replica: when the primary dies right
// after, the backup that takes over does not bring the session back, and a
// late patch on it is refused.
func TestDeleteSurvivesPrimaryDeath(t *testing.T) {
	c := clustertest.New(t, 3)
	c.WaitConverged(converge)
	id := create(t, c.Store(0), map[string]any{"n": 1})
	if err := c.Store(0).Delete(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	c.Kill(c.Owners(0, id)[0])
	for _, i := range c.Alive() {
		if _, found, err := c.Store(i).Load(context.Background(), id); found || err != nil {
			t.Fatalf("node %d: deleted session loads again (found=%v, err=%v) after its primary died", i, found, err)
		}
		if _, err := c.Store(i).Save(context.Background(), id, set(map[string]any{"n": 2})); !errors.Is(err, session.ErrNotFound) {
			t.Fatalf("node %d: patch of a deleted session: %v; want ErrNotFound", i, err)
		}
	}
}

// A backup that does not answer is replaced by the next node in HRW
// order, which keeps a hinted copy; the write is acknowledged with N
// copies, and the copy goes to the backup once it answers again.
func TestUnreachableBackupGetsHintedCopy(t *testing.T) {
	scenario(t)
	// AvailableFirst: the backup serves alone at the end, which shows it holds the copy.
	c := clustertest.New(t, 3, availableFirst())
	c.WaitConverged(converge)
	var id string
	var own []int
	for { // a session whose primary is node 0
		id = session.NewID()
		if own = c.Owners(0, id); own[0] == 0 {
			break
		}
	}
	backup := own[1]
	spare := 3 - own[0] - own[1]
	c.Drop(0, backup, 1) // the primary's messages to the backup vanish
	// and the spare cannot hand the copy back before it is counted below.
	c.BlockPeer(spare, backup)
	p := set(map[string]any{"n": 7})
	p.NewID = id
	if _, err := c.Store(0).Save(context.Background(), "", p); err != nil {
		t.Fatalf("save with an unreachable backup: %v", err)
	}
	if st := c.Store(0).Status(context.Background()); hinted(st, c.Store(spare).Name()) != 1 {
		t.Fatalf("spare node %d holds %d hinted copies; want 1", spare, hinted(st, c.Store(spare).Name()))
	}
	c.Heal()
	testutil.Eventually(t, converge, "the hinted copy is handed back", func() bool {
		return hinted(c.Store(spare).Status(context.Background()), c.Store(spare).Name()) == 0
	})
	// Now the backup holds it: with primary and spare cut off, it serves.
	c.Partition([]int{backup})
	if n, ok := value(t, c.Store(backup), id, "n"); !ok || n != 7 {
		t.Fatalf("backup reads n=%d found=%v after the hand-back; want 7", n, ok)
	}
}

// hinted returns how many hinted copies member name holds in st.
func hinted(st cluster.Status, name string) int {
	i := slices.IndexFunc(st.Members, func(m cluster.MemberStatus) bool { return m.Name == name })
	if i < 0 {
		return -1
	}
	return st.Members[i].Hinted
}
