package cluster_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/sessionmesh/sessionmesh/cluster"
	"github.com/sessionmesh/sessionmesh/cluster/clustertest"
	"github.com/sessionmesh/sessionmesh/internal/testutil"
	"github.com/sessionmesh/sessionmesh/session"
)

// With Config.Quorum, the side of a split that sees no majority of the
// last stable membership refuses reads and writes (ErrNoQuorum, an
// ErrUnavailable) and reports not ready (a balancer takes it out), and
// stays that way, while the majority keeps writing and, once its smaller
// view is stable, tolerates the next failure. After the heal the minority
// is ready and serves again, and a member that leaves gracefully never
// costs the others their quorum.
func TestQuorumRefusesWritesOnTheMinoritySide(t *testing.T) {
	scenario(t)
	clk := &skewClock{}
	c := clustertest.New(t, 3, clustertest.WithConfig(func(_ int, cfg *cluster.Config) {
		cfg.Now = clk.Now
	}))
	c.WaitConverged(converge)
	ctx := context.Background()
	clk.Advance(2 * time.Second) // past StableAfter (1s): the three become the stable membership
	if st := c.Store(0).Status(ctx); st.Stable != 3 || !st.Quorum {
		t.Fatalf("stable=%d quorum=%v with three members; want 3, true", st.Stable, st.Quorum)
	}
	var id string // a session node 0 holds a copy of
	for id == "" || !slices.Contains(c.Owners(0, id), 0) {
		id = create(t, c.Store(0), map[string]any{"side": "before"})
	}

	c.Partition([]int{0}, []int{1, 2})
	testutil.Eventually(t, converge, "each side sees only itself", func() bool {
		return len(c.Store(0).Table().Members()) == 1 &&
			len(c.Store(1).Table().Members()) == 2 && len(c.Store(2).Table().Members()) == 2
	})
	clk.Advance(2 * time.Second)
	if st := c.Store(1).Status(ctx); st.Stable != 2 || !st.Quorum {
		t.Fatalf("the majority reports stable=%d quorum=%v; want 2, true (it adopts its view)", st.Stable, st.Quorum)
	}
	if st := c.Store(0).Status(ctx); st.Quorum || st.Stable != 3 {
		t.Fatalf("the minority reports quorum=%v stable=%d; want false, 3 (a minority never adopts its view)", st.Quorum, st.Stable)
	}
	if c.Store(0).Ready() || !c.Store(1).Ready() {
		t.Fatalf("ready: minority %v, majority %v; want false, true", c.Store(0).Ready(), c.Store(1).Ready())
	}
	_, errSave := c.Store(0).Save(ctx, id, set(map[string]any{"side": "minority"}))
	errDelete := c.Store(0).Delete(ctx, id)
	p := set(map[string]any{"side": "new"})
	p.NewID = session.NewID()
	_, errCreate := c.Store(0).Save(ctx, "", p)
	for what, err := range map[string]error{"save": errSave, "delete": errDelete, "create": errCreate} {
		if !errors.Is(err, cluster.ErrNoQuorum) || !errors.Is(err, cluster.ErrUnavailable) {
			t.Errorf("minority %s: %v; want ErrNoQuorum wrapping ErrUnavailable", what, err)
		}
	}
	if _, _, err := c.Store(0).Load(ctx, id); !errors.Is(err, cluster.ErrNoQuorum) {
		t.Errorf("minority load: %v; want ErrNoQuorum (a stale read starts a lost write)", err)
	}
	save(t, c.Store(1), id, "majority")

	c.Heal()
	c.WaitConverged(converge) // Converged includes Ready
	save(t, c.Store(0), id, "healed")
	if got := sideOf(t, c.Store(2), id); got != "healed" {
		t.Errorf("after the heal node 2 reads %q; want healed", got)
	}
	if err := c.Drain(ctx, 2); err != nil {
		t.Fatalf("drain: %v", err)
	}
	c.WaitConverged(converge)
	save(t, c.Store(0), id, "after-leave")
}

// skewClock is the real clock plus an offset the test advances, so
// durations measured against it (StableAfter) pass without waiting while
// session deadlines (set from the real clock) stay in the future.
type skewClock struct {
	mu     sync.Mutex // guards offset
	offset time.Duration
}

func (c *skewClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

func (c *skewClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.offset += d
}

// A node counts the members it joins at once, not only after StableAfter:
// cut off right after the cluster formed, it is the minority and is not
// ready, while the other two are the majority.
func TestQuorumCountsJoinsAtOnce(t *testing.T) {
	scenario(t)
	c := clustertest.New(t, 3, clustertest.WithConfig(func(_ int, cfg *cluster.Config) {
		cfg.StableAfter = time.Hour
	}))
	c.WaitConverged(converge)
	for i := range 3 {
		if st := c.Store(i).Status(context.Background()); st.Stable != 3 {
			t.Fatalf("node %d: stable membership of %d right after forming; want 3", i, st.Stable)
		}
	}
	c.Partition([]int{0}, []int{1, 2})
	testutil.Eventually(t, converge, "node 0 loses its quorum and readiness", func() bool {
		return !c.Store(0).Ready() && c.Store(1).Ready() && c.Store(2).Ready()
	})
}
