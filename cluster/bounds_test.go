package cluster_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/sessionmesh/sessionmesh/cluster"
	"github.com/sessionmesh/sessionmesh/cluster/clustertest"
	"github.com/sessionmesh/sessionmesh/internal/testutil"
	"github.com/sessionmesh/sessionmesh/session"
)

// At a node's bound a flood of new sessions displaces itself: the users
// who come back keep theirs, the primaries evict spare sessions (their
// replicas drop them too) or refuse new ones with ErrFull, no node holds
// much more than its bound, and no evicted session comes back. It tests
// bounds, not failures: the nodes get patient timers, and a request
// refused for the moment (transient: a node stalled on a loaded machine)
// is retried, as a user would, so that only ErrFull counts as refused.
func TestFloodAtTheBoundKeepsReturningUsers(t *testing.T) {
	scenario(t)
	const bound, users, flood = 400, 100, 4000
	const round = 300 * time.Millisecond // eviction tombstones last two anti-entropy rounds
	var logs testutil.Buffer
	c := clustertest.New(t, 3, patient(), clustertest.WithConfig(func(_ int, cfg *cluster.Config) {
		cfg.MaxSessions = bound
		cfg.AntiEntropyInterval = round
	}), clustertest.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	t.Cleanup(func() {
		if t.Failed() {
			t.Log(logs.String())
		}
	})
	c.WaitConverged(converge)
	ctx := context.Background()
	var ids []string
	for i := range users {
		ids = append(ids, create(t, c.Store(i%3), map[string]any{"n": 1}))
	}
	comeBack := func() {
		for _, id := range ids {
			settledValue(t, c.Store(0), id, "n")
		}
	}
	comeBack()
	refused, created := 0, map[string]bool{}
	for i := range flood {
		if i%200 == 0 {
			comeBack()
		}
		p := set(map[string]any{"flood": i})
		p.NewID = c.Store(i % 3).NewID()
		err := retry(func() error { // the same create again: idempotent
			_, err := c.Store(i%3).Save(ctx, "", p)
			return err
		})
		switch {
		case errors.Is(err, session.ErrFull):
			refused++
		case err != nil:
			t.Fatalf("flood session %d: %v", i, err)
		default:
			created[p.NewID] = true
		}
	}
	kept := 0
	for _, id := range ids {
		if _, ok := settledValue(t, c.Store(0), id, "n"); ok {
			kept++
		}
	}
	if kept < users*99/100 {
		t.Fatalf("%d of %d returning users kept their session through a flood of %d at a bound of %d per node", kept, users, flood, bound)
	}
	st := freshStatus(t, c, 0) // every member answered: its counts, not an error
	var evicted uint64
	for _, m := range st.Members {
		evicted += m.Evictions
		if m.Sessions+m.Tombstones > bound*5/4 {
			t.Errorf("node %s holds %d entries; bound %d", m.Name, m.Sessions+m.Tombstones, bound)
		}
		if m.Bytes <= 0 { // every member holds sessions: it must say how much memory they take
			t.Errorf("node %s reports %d bytes of sessions", m.Name, m.Bytes)
		}
	}
	t.Logf("kept %d of %d users; %d flood sessions created, %d refused, %d evicted", kept, users, len(created), refused, evicted)
	if evicted == 0 {
		t.Fatal("nothing was evicted: the bound did nothing")
	}
	// The operators see it: a line a round, with the counts, not a line a
	// session.
	testutil.Eventually(t, converge, "a node to log what its bounds cost", func() bool {
		return strings.Contains(logs.String(), "cluster: at its bounds since the last round")
	})
	if n := strings.Count(logs.String(), "at its bounds since the last round"); uint64(n) >= evicted {
		t.Errorf("%d bounds lines for %d evictions: want a summary a round, not a line an eviction", n, evicted)
	}
	// Evicted sessions stay gone once their tombstones expired and
	// anti-entropy compared the replicas again: the test waits until every
	// node has started two more rounds after the last tombstone expired.
	before := loadable(t, c, created)
	compared := time.Now().Add(2*round + 2*round)
	testutil.Eventually(t, converge, "two anti-entropy rounds on every node after the eviction tombstones expired", func() bool {
		for _, m := range c.Store(0).Status(ctx).Members {
			if !m.CountedAt.After(compared) {
				return false
			}
		}
		return true
	})
	if after := loadable(t, c, created); after > before {
		t.Fatalf("%d flood sessions load after the anti-entropy rounds, %d before: evicted sessions came back", after, before)
	}
}

// loadable counts the sessions of ids that node 0 loads. A load refused
// for the moment is retried: counted as a miss, it would make the count
// before the anti-entropy rounds too low, and sessions seem to come back.
func loadable(t *testing.T, c *clustertest.Cluster, ids map[string]bool) int {
	t.Helper()
	n := 0
	for id := range ids {
		var found bool
		if err := retry(func() (err error) {
			_, found, err = c.Store(0).Load(context.Background(), id)
			return err
		}); err != nil {
			t.Fatalf("load flood session %s: %v", id, err)
		}
		if found {
			n++
		}
	}
	return n
}
