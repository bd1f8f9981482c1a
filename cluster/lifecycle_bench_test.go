package cluster_test

import (
	"context"
	"testing"
	"time"

	"github.com/sessionmesh/sessionmesh/cluster"
	"github.com/sessionmesh/sessionmesh/cluster/clustertest"
)

// The lifecycle benchmarks time one membership change each on a cluster
// holding many sessions; run them one at a time, once:
//
//	go test -run x -bench 'Lifecycle' -benchtime 1x ./cluster/
//
// They use DefaultLocalConfig's timers (a dead node is noticed in about
// a second), not clustertest's relaxed ones, and report seconds.

// localTimers restores DefaultLocalConfig's failure detection.
func localTimers() clustertest.Option {
	return clustertest.WithConfig(func(_ int, cfg *cluster.Config) {
		d := cluster.DefaultLocalConfig()
		cfg.ProbeTimeout, cfg.SuspicionMult, cfg.AntiEntropyInterval = d.ProbeTimeout, d.SuspicionMult, d.AntiEntropyInterval
	})
}

// BenchmarkLifecycleCrash kills one of three nodes holding 100k sessions
// and reports how long the survivors took to notice (detect-s), how long
// until a session whose primary died was read again (failover-s), and
// until every partition had N copies again (redundant-s).
func BenchmarkLifecycleCrash(b *testing.B) {
	for b.Loop() {
		b.StopTimer()
		c := clustertest.New(b, 3, localTimers())
		c.WaitConverged(converge)
		ids := createMany(b, c, 100_000)
		var victim string
		for _, id := range ids {
			if c.Owners(0, id)[0] == 2 {
				victim = id
				break
			}
		}
		b.StartTimer()
		start := time.Now()
		c.Kill(2)
		var detect, failover time.Duration
		for detect == 0 || failover == 0 || sumShort(c) > 0 || !c.Converged() {
			if failover == 0 {
				if _, found, err := c.Store(0).Load(context.Background(), victim); found && err == nil {
					failover = time.Since(start)
				}
			}
			if detect == 0 && len(c.Store(0).Table().Members()) == 2 && len(c.Store(1).Table().Members()) == 2 {
				detect = time.Since(start)
			}
			time.Sleep(time.Millisecond)
		}
		redundant := time.Since(start)
		b.ReportMetric(detect.Seconds(), "detect-s")
		b.ReportMetric(failover.Seconds(), "failover-s")
		b.ReportMetric(redundant.Seconds(), "redundant-s")
		b.ReportMetric(float64(len(ids)), "sessions")
	}
}

// BenchmarkLifecycleStall silences one of three nodes (every message to
// and from it is lost, as when its process is stopped) and reports how
// long the others took to declare it dead (detect-s) and how long one
// read of a session whose primary it was took meanwhile (failover-s: the
// call to the silent primary times out after CallTimeout, then the
// backup answers).
func BenchmarkLifecycleStall(b *testing.B) {
	for b.Loop() {
		b.StopTimer()
		c := clustertest.New(b, 3, localTimers())
		c.WaitConverged(converge)
		var victim string
		for victim == "" || c.Owners(0, victim)[0] != 2 {
			victim = create(b, c.Store(0), map[string]any{"n": 1})
		}
		b.StartTimer()
		start := time.Now()
		for _, i := range []int{0, 1} {
			c.Drop(i, 2, 1)
			c.Drop(2, i, 1)
		}
		if _, found, err := c.Store(0).Load(context.Background(), victim); !found || err != nil {
			b.Fatalf("load during the stall: %v %v", found, err)
		}
		failover := time.Since(start)
		for _, i := range []int{0, 1} {
			waitTable(b, c.Store(i), converge, "the stalled node is dropped", func(t *cluster.Table) bool { return len(t.Members()) == 2 })
		}
		b.ReportMetric(time.Since(start).Seconds(), "detect-s")
		b.ReportMetric(failover.Seconds(), "failover-s")
	}
}

// BenchmarkLifecycleJoin adds a fourth node to three holding 300k
// sessions and reports how long until it was ready (ready-s: its pulls
// done) and until the old copies were handed off and dropped, so every
// session was on exactly N nodes again (settled-s).
func BenchmarkLifecycleJoin(b *testing.B) {
	for b.Loop() {
		b.StopTimer()
		c := clustertest.New(b, 3, localTimers())
		c.WaitConverged(converge)
		ids := createMany(b, c, 300_000)
		b.StartTimer()
		start := time.Now()
		d := c.Add()
		for !c.Store(d).Ready() {
			time.Sleep(time.Millisecond)
		}
		ready := time.Since(start)
		for sessionsHeld(b, c, 0) != 2*len(ids) {
			time.Sleep(10 * time.Millisecond)
		}
		b.ReportMetric(ready.Seconds(), "ready-s")
		b.ReportMetric(time.Since(start).Seconds(), "settled-s")
		b.ReportMetric(float64(sessionsOf(b, c, d)), "pulled-sessions")
	}
}

// BenchmarkLifecycleDrain drains one of three nodes holding 100k sessions
// and reports how long Drain took (drain-s) and how many sessions the
// drained node held.
func BenchmarkLifecycleDrain(b *testing.B) {
	for b.Loop() {
		b.StopTimer()
		c := clustertest.New(b, 3, localTimers())
		c.WaitConverged(converge)
		createMany(b, c, 100_000)
		held := sessionsOf(b, c, 1)
		b.StartTimer()
		start := time.Now()
		if err := c.Drain(context.Background(), 1); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(time.Since(start).Seconds(), "drain-s")
		b.ReportMetric(float64(held), "held-sessions")
	}
}
