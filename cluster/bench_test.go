package cluster_test

import (
	"context"
	"testing"

	"github.com/sessionmesh/sessionmesh/cluster/clustertest"
	"github.com/sessionmesh/sessionmesh/session"
)

// BenchmarkStore measures Load and Save through node 0 of a two-node
// cluster (N=2, so every save is also copied to the other node) for a
// session whose primary is node 0 (local) and one whose primary is node 1
// (remote), in one run.
func BenchmarkStore(b *testing.B) {
	c := clustertest.New(b, 2)
	c.WaitConverged(converge)
	st := c.Store(0)
	ids := map[string]string{}
	for len(ids) < 2 {
		id := session.NewID()
		where := "remote"
		if c.Owners(0, id)[0] == 0 {
			where = "local"
		}
		if ids[where] == "" {
			p := set(map[string]any{"counter": 1, "user": "someone@example.com"})
			p.NewID = id
			if _, err := st.Save(context.Background(), "", p); err != nil {
				b.Fatal(err)
			}
			ids[where] = id
		}
	}
	ctx := context.Background()
	for _, where := range []string{"local", "remote"} {
		id := ids[where]
		b.Run("Load/"+where, func(b *testing.B) {
			for b.Loop() {
				if _, found, err := st.Load(ctx, id); !found || err != nil {
					b.Fatal(found, err)
				}
			}
		})
		b.Run("Save/"+where, func(b *testing.B) {
			p := set(map[string]any{"counter": 2})
			for b.Loop() {
				if _, err := st.Save(ctx, id, p); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
