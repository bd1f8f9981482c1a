// Package chaos holds the chaos tests of the cluster: three real cmd/demo
// worker processes on loopback form one cluster over the shared memory
// store with two copies of every session, sessions are preloaded,
// the load generator and consistency checker (test/loadcheck/check) runs
// many users through a client-side round-robin balancer, and a fault is
// injected while it runs:
//
//	TestKill         kill -9 one of three
//	TestFreeze       SIGSTOP one for longer than failure detection, then SIGCONT
//	TestRollingRestart  SIGTERM, start again, wait for ready; each in turn
//	TestJoinAndLeave add a fourth worker, then stop one gracefully
//
// Every test passes only with zero lost acknowledged writes and every
// preloaded session still there; the planned ones (rolling restart, join
// and leave) with zero failed requests, the crashes with under 0.5%. After
// the kill, the survivors must be back to two copies of every partition
// within 10 s, which the test then proves by killing a second worker and
// reading every preloaded session from the last one.
//
// The default run is short (about a minute for all four on two cores);
// go test -short skips all four, since they start worker processes
// (test/worker). The figures in BENCHMARKS.md come from runs with more
// sessions, 100000 for a kill and 300000 for a join:
//
//	go test ./test/chaos -run Kill -v -args -sessions=100000
//	go test ./test/chaos -run JoinAndLeave -v -args -sessions=300000
//
// Each test logs the loadcheck summary and its timings (failure detection,
// time to full redundancy, drain and join times) with -v.
package chaos

import (
	"flag"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/sessionmesh/sessionmesh/test/worker"
)

var (
	// preloadCount is how many sessions the cluster holds before a fault.
	preloadCount = flag.Int("sessions", 10000, "sessions preloaded before each fault (BENCHMARKS.md runs 100000, and 300000 for a join)")

	// loadFor is how long the load runs before a fault and after the
	// cluster has healed from it.
	loadFor = flag.Duration("load", 2*time.Second, "how long the load runs before each fault and after the cluster healed")

	// keepLogs is where the workers' logs of a failed test are copied.
	keepLogs = flag.String("logs", "", "directory to copy the workers' logs of a failed test to (default: only their last lines are printed)")
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.Cleanup(worker.Exit))
}
