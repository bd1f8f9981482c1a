package cluster_test

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/sessionmesh/sessionmesh/cluster/clustertest"
	"github.com/sessionmesh/sessionmesh/internal/testutil"
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

// BenchmarkStoreParallel is BenchmarkStore with many callers at once, as a
// worker under load has; cpu-ns/op is the CPU both nodes spend per
// operation (they share the process) when calls overlap, so frames share
// system calls. Sessions are spread over 1000 IDs whose primary is node 0
// (local) or node 1 (remote).
func BenchmarkStoreParallel(b *testing.B) {
	c := clustertest.New(b, 2)
	c.WaitConverged(converge)
	st := c.Store(0)
	ctx := context.Background()
	ids := map[string][]string{}
	for len(ids["local"]) < 1000 || len(ids["remote"]) < 1000 {
		id := session.NewID()
		where := "remote"
		if c.Owners(0, id)[0] == 0 {
			where = "local"
		}
		if len(ids[where]) == 1000 {
			continue
		}
		p := set(map[string]any{"counter": 1, "user": "someone@example.com"})
		p.NewID = id
		if _, err := st.Save(ctx, "", p); err != nil {
			b.Fatal(err)
		}
		ids[where] = append(ids[where], id)
	}
	for _, where := range []string{"local", "remote"} {
		ids := ids[where]
		b.Run("Load/"+where, func(b *testing.B) {
			var n atomic.Int64
			b.SetParallelism(8)
			defer reportCPU(b, testutil.CPUTime())
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, found, err := st.Load(ctx, ids[n.Add(1)%int64(len(ids))]); !found || err != nil {
						b.Error(found, err)
						return
					}
				}
			})
		})
		b.Run("Save/"+where, func(b *testing.B) {
			var n atomic.Int64
			b.SetParallelism(8)
			p := set(map[string]any{"counter": 2})
			defer reportCPU(b, testutil.CPUTime())
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := st.Save(ctx, ids[n.Add(1)%int64(len(ids))], p); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// reportCPU reports the process's CPU time since start per operation.
func reportCPU(b *testing.B, start int64) {
	b.ReportMetric(float64(testutil.CPUTime()-start)/float64(b.N), "cpu-ns/op")
}

// BenchmarkRoundRobin is what a worker behind a round-robin balancer
// does, in one process: three nodes (N=2), 1000 sessions, and each
// operation is one request of the workload on a node chosen in turn for
// a session chosen in turn: the counter (a load and a save) or reads
// (nine loads to one load and save). Two requests in three reach a node
// that is not the session's primary; cpu-ns/op is the CPU all three
// nodes spend per request.
func BenchmarkRoundRobin(b *testing.B) {
	c := clustertest.New(b, 3)
	c.WaitConverged(converge)
	ctx := context.Background()
	ids := make([]string, 1000)
	for i := range ids {
		ids[i] = create(b, c.Store(i%3), map[string]any{"counter": 1, "user": "someone@example.com"})
	}
	for _, w := range []struct {
		name  string
		saves int64 // one request in saves writes
	}{{"counter", 1}, {"read", 10}} {
		b.Run(w.name, func(b *testing.B) {
			var n atomic.Int64
			b.SetParallelism(8)
			p := set(map[string]any{"counter": 2})
			defer reportCPU(b, testutil.CPUTime())
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					i := n.Add(1)
					st, id := c.Store(int(i%3)), ids[(i/3)%int64(len(ids))]
					if _, found, err := st.Load(ctx, id); !found || err != nil {
						b.Error(found, err)
						return
					}
					if i%w.saves != 0 {
						continue
					}
					if _, err := st.Save(ctx, id, p); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
