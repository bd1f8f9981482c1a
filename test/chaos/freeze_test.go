package chaos

import (
	"testing"
	"time"

	"github.com/sessionmesh/sessionmesh/test/worker"
)

// frozenTimeout is the per-attempt timeout while a worker may be frozen:
// what a user waits before the balancer tries the next one.
const frozenTimeout = 3 * time.Second

// TestFreeze: SIGSTOP one of three workers under load, as a hung machine
// or a long pause would, for longer than failure detection: the others
// declare it dead and restore two copies of everything without it. Then
// SIGCONT: it comes back to stale data, must not serve it, and the
// cluster becomes whole again with three members.
func TestFreeze(t *testing.T) {
	r, l := startLoaded(t, frozenTimeout)

	victim, _, detected, redundant := r.loseOne("frozen", (*worker.Worker).Stop)
	since := time.Now()
	l.runFor(0, 200) // writes the frozen worker's copies miss
	frozen := redundant + time.Since(since)
	victim.Cont()
	ws := r.pool.Workers()
	back := r.waitConverged("the thawed worker to rejoin", ws, 60*time.Second)
	t.Logf("SIGSTOP %s: declared dead after %v, two copies again after %v, frozen for %v; whole again %v after SIGCONT",
		victim.Name(), detected.Round(time.Millisecond), redundant.Round(time.Millisecond),
		frozen.Round(time.Millisecond), back.Round(time.Millisecond))
	l.runFor(*loadFor, 200)
	rep := l.finish("SIGSTOP one of three, then SIGCONT")
	t.Logf("failover: the longest any user went without an answer was %v", rep.LongestWait.Round(time.Millisecond))
	expect(t, "SIGSTOP/SIGCONT", rep, crashFailures)
	r.verifyPreloaded("after the freeze", ws)
}
