package chaos

import (
	"fmt"
	"testing"
	"time"

	"github.com/sessionmesh/sessionmesh/test/worker"
)

const (
	users = 30 // virtual users of each load run

	// crashFailures is the share of requests that may fail around a
	// crash (DESIGN.md: under 0.5%); planned changes may fail none.
	crashFailures = 0.005

	// redundancyWithin is how soon after a crash every partition must
	// have two copies again (DESIGN.md: within 10 s).
	redundancyWithin = 10 * time.Second
)

// TestKill: kill -9 one of three workers under load. The survivors notice,
// take over its partitions and copy every partition that lost a copy
// until each has two again, within 10 s. To prove the gauge that says so,
// a second worker is then killed as well: the last one must still have
// every preloaded session.
func TestKill(t *testing.T) {
	r, l := startLoaded(t, patient)
	killTwo(t, r, l)
}

// killTwo is TestKill's scenario on a loaded cluster of three.
func killTwo(t *testing.T, r *rig, l *load) {
	victim, survivors, detected, redundant := r.loseOne("killed", (*worker.Worker).Kill)
	t.Logf("kill -9 %s with %d sessions held: failure detected after %v, two copies of everything again after %v",
		victim.Name(), len(r.tokens), detected.Round(time.Millisecond), redundant.Round(time.Millisecond))
	if redundant > redundancyWithin {
		t.Errorf("two copies of every partition only %v after the kill, want within %v", redundant.Round(time.Millisecond), redundancyWithin)
	}
	l.runFor(*loadFor, 200)
	rep := l.finish("kill -9 one of three")
	t.Logf("failover: the longest any user went without an answer was %v", rep.LongestWait.Round(time.Millisecond))
	expect(t, "kill -9", rep, crashFailures)
	r.verifyPreloaded("after the kill", survivors)

	// With the quorum guard (the default), one of two keeps serving only
	// if it is the first of the stable pair by name: so once the pair is
	// the stable membership, the other one is killed.
	last, second := r.tieBreaker(survivors)
	second.Kill()
	r.waitFor("the last worker to be alone and quorate", 30*time.Second, func() error {
		if err := r.membersErr([]*worker.Worker{last}); err != nil {
			return err
		}
		if st, err := r.status(last); err != nil || !st.Quorum {
			return fmt.Errorf("%s: quorum %v, stable set of %d (%v)", last.Name(), st.Quorum, st.Stable, err)
		}
		return nil
	})
	r.verifyPreloaded("on the last worker after a second kill", []*worker.Worker{last})
}

// tieBreaker waits until both of pair hold the pair as their stable
// membership and returns first the one whose node sorts first by name
// (the one that keeps the quorum when the other is lost), then the other.
func (r *rig) tieBreaker(pair []*worker.Worker) (first, other *worker.Worker) {
	r.t.Helper()
	names := map[*worker.Worker]string{}
	r.waitFor("the two survivors to be the stable membership", 60*time.Second, func() error {
		for _, w := range pair {
			st, err := r.status(w)
			if err != nil {
				return err
			}
			if st.Stable != len(pair) || !st.Quorum {
				return fmt.Errorf("%s: stable set of %d, quorum %v; want %d, true", w.Name(), st.Stable, st.Quorum, len(pair))
			}
			names[w] = st.Node
		}
		return nil
	})
	if names[pair[0]] < names[pair[1]] {
		return pair[0], pair[1]
	}
	return pair[1], pair[0]
}

// TestRollingRestart: a deploy. Each worker in turn gets SIGTERM (it hands
// its sessions to the others and exits), starts again and, once ready,
// the next one follows. No request may fail: the balancer skips a worker
// that refuses connections or answers 503.
func TestRollingRestart(t *testing.T) {
	r, l := startLoaded(t, patient)

	for _, w := range r.pool.Workers() {
		start := time.Now()
		w.Term()
		stopped := time.Since(start)
		w.Restart()
		t.Logf("%s: SIGTERM to exit %v (%s), start to ready %v", w.Name(),
			stopped.Round(time.Millisecond), drained(w), (time.Since(start) - stopped).Round(time.Millisecond))
		l.runFor(*loadFor/2, 100)
	}
	r.waitConverged("the cluster to be whole after the rolling restart", r.pool.Workers(), 60*time.Second)
	l.runFor(*loadFor, 200)
	expect(t, "rolling restart", l.finish("rolling restart of all three"), 0)
	r.verifyPreloaded("after the rolling restart", r.pool.Workers())
}

// TestJoinAndLeave: autoscaling. A fourth worker joins under load and
// pulls the partitions it now owns before it reports ready; then one of
// the first three leaves gracefully. No request may fail, and the new
// worker serves users too (a second load that includes it).
func TestJoinAndLeave(t *testing.T) {
	r, l := startLoaded(t, patient)

	start := time.Now()
	joined := r.pool.Add()
	ready := time.Since(start)
	r.waitConverged("the cluster to be whole with the fourth worker", r.pool.Workers(), 60*time.Second)
	t.Logf("%s joined %d workers holding %d sessions: ready after %v, whole (rebalanced) after %v",
		joined.Name(), 3, len(r.tokens), ready.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
	all := startLoad(t, r.pool.URLs(), users/3, patient)
	l.runFor(*loadFor, 200)

	leaver := r.pool.Workers()[0]
	start = time.Now()
	leaver.Term()
	t.Logf("%s: SIGTERM to exit %v (%s)", leaver.Name(), time.Since(start).Round(time.Millisecond), drained(leaver))
	rest := r.workers(leaver)
	r.waitConverged("the cluster to be whole without the worker that left", rest, 60*time.Second)
	l.runFor(*loadFor, 200)
	expect(t, "join and leave", l.finish("a fourth joins, then one leaves"), 0)
	rep := all.finish("users that include the fourth worker")
	expect(t, "join and leave, with the fourth", rep, 0)
	if rep.ServedBy[joined.Name()] == 0 {
		t.Errorf("the new worker %s served no user: %v", joined.Name(), rep.ServedBy)
	}
	r.verifyPreloaded("after the join and the leave", rest)
}
