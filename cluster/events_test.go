package cluster_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/sessionmesh/sessionmesh/cluster"
	"github.com/sessionmesh/sessionmesh/cluster/clustertest"
	"github.com/sessionmesh/sessionmesh/session"
)

// In a cluster each session's end is reported once, by its primary: its
// eviction at the node's bound, or its expiry; the replicas' copies
// expire silently, and so do the eviction tombstones.
func TestRemovalsAreReportedOnceByThePrimary(t *testing.T) {
	scenario(t)
	const bound = 20
	clk := &skewClock{}
	c := clustertest.New(t, 3, clustertest.WithConfig(func(_ int, cfg *cluster.Config) {
		cfg.Now = clk.Now
		cfg.MaxSessions = bound
	}))
	c.WaitConverged(converge)
	var mu sync.Mutex
	got := map[string][]string{} // session ID -> "kind@node" of each report
	for i := range 3 {
		c.Store(i).OnRemoval(func(r session.Removal) {
			mu.Lock()
			defer mu.Unlock()
			got[r.ID] = append(got[r.ID], fmt.Sprintf("%v@%d", r.Kind, i))
		})
	}
	ctx := context.Background()
	var created []string
	newSession := func(i int) (string, error) {
		p := session.Patch{NewID: c.Store(i % 3).NewID(), Now: clk.Now(), Idle: time.Hour, Set: map[string][]byte{"n": []byte("1")}}
		_, err := c.Store(i%3).Save(ctx, "", p)
		return p.NewID, err
	}
	for i := range 3 * bound / 4 { // users, who come back: they expire
		id, err := newSession(i)
		if err != nil {
			t.Fatalf("create session %d: %v", i, err)
		}
		if _, err := c.Store(0).Save(ctx, id, session.Patch{Now: clk.Now(), Idle: time.Hour}); err != nil {
			t.Fatalf("touch session %d: %v", i, err)
		}
		created = append(created, id)
	}
	for i := range 6 * bound { // a flood: evicted
		switch id, err := newSession(i); {
		case errors.Is(err, session.ErrFull):
		case err != nil:
			t.Fatalf("create flood session %d: %v", i, err)
		default:
			created = append(created, id)
		}
	}
	clk.Advance(2 * time.Hour)
	swept := 0
	for i := range 3 {
		swept += c.Store(i).Sweep()
	}

	mu.Lock()
	defer mu.Unlock()
	kinds := map[session.EventKind]int{}
	for _, id := range created {
		primary := c.Owners(0, id)[0]
		reports := got[id]
		if len(reports) != 1 {
			t.Errorf("session %.8s (primary node %d) reported %v; want once, by its primary", id, primary, reports)
			continue
		}
		for _, k := range []session.EventKind{session.EventEvicted, session.EventExpired} {
			if reports[0] == fmt.Sprintf("%v@%d", k, primary) {
				kinds[k]++
			}
		}
	}
	if n := kinds[session.EventEvicted] + kinds[session.EventExpired]; n != len(created) || len(got) != len(created) {
		t.Errorf("%d of %d sessions reported evicted or expired by their primary, %d sessions reported in all", n, len(created), len(got))
	}
	if kinds[session.EventEvicted] == 0 || kinds[session.EventExpired] == 0 || swept <= kinds[session.EventExpired] {
		t.Fatalf("%d evicted, %d expired, %d copies swept: the test did not evict, expire, or sweep replicas", kinds[session.EventEvicted], kinds[session.EventExpired], swept)
	}
	t.Logf("%d sessions: %d evicted, %d expired; %d copies and tombstones swept", len(created), kinds[session.EventEvicted], kinds[session.EventExpired], swept)
}
