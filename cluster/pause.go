package cluster

import (
	"context"
	"sync"
	"time"
)

// A node that was paused (SIGSTOP, a frozen VM, a debugger) for longer
// than failure detection may have been declared dead meanwhile: the
// others then took over its partitions and wrote sessions it never saw.
// When it runs again nothing in its own view has changed (its table still
// names it primary), and requests queued during the pause would be served
// from stale copies.
//
// So the node keeps a heartbeat. After a gap longer than the shortest
// time in which the others could have declared it dead, it serves nothing
// until it has asked every member how long it has been a member there
// without a break (opSeen); until at least one answers, it keeps asking.
// If one of them lost sight of it during the gap, the node holds nothing
// for sure any more: it drops its holdings, and requests fail over to the
// replicas that kept running meanwhile, until every member that answers
// counts it as a member again (only then do their writes reach it); then
// it pulls its partitions again (holdings.go) and serves. If all of them
// kept it (the whole machine stalled, say, or the gap was the silence of
// a member that died), nothing changes.

// Isolation looks the same to the others, and to the node it looks like
// nothing at all: a network split that cuts a node off for longer than
// failure detection lets the others declare it dead and write sessions
// it never sees, while its own table may still name it primary (it has
// not finished suspecting them when the network returns). So the node
// also counts the time since another member last answered a probe or
// exchanged a peer message with it (contact). While that exceeds
// pauseLimit it is isolated: not Ready (a balancer takes it out), and no
// authority for its partitions (Store.local). The first contact after
// such a gap schedules the same check as a pause, before the node is
// ready again.

// pauseLimit is a gap after which the others may have declared this node
// dead. memberlist's nominal shortest time is a probe timeout plus the
// suspicion timeout (SuspicionMult probe intervals), but a suspicion can
// start before the gap does (a probe that failed just before), so the
// limit is half of it: a check too many costs a round of opSeen calls,
// one too few serves stale copies.
func (c *Config) pauseLimit() time.Duration {
	return (c.ProbeTimeout + time.Duration(c.SuspicionMult)*c.ProbeInterval) / 2
}

// deathGrace is how long a member memberlist declared dead stays in the
// table in case it refutes (membership.NotifyLeave): two gossip rounds
// and a probe interval, well under the failure detection it follows.
func (c *Config) deathGrace() time.Duration {
	return 2*c.GossipInterval + c.ProbeInterval
}

// pause is the state of the pause check.
type pause struct {
	mu        sync.Mutex    // guards the fields below
	gap       time.Duration // the pause to check; 0 when none is pending
	checking  chan struct{} // closed when the pending check ends
	resyncing bool          // a member lost sight of this node; waiting until all count it again
}

// checkPause compares the time since the last heartbeat with pauseLimit;
// after a longer gap it schedules a check (run by the heartbeat, beat).
// It runs on the heartbeat and before serving a request, so a request
// queued during a pause finds the gap before it is served.
func (s *Store) checkPause() {
	now := int64(s.mono())
	last := s.lastBeat.Load()
	gap := time.Duration(now - last)
	if !s.lastBeat.CompareAndSwap(last, now) {
		return
	}
	s.suspectGap(gap)
}

// contact records that another member answered. After a silence longer
// than pauseLimit it first schedules a check, so that Ready stays false
// from the silence through the check.
func (s *Store) contact() {
	now := int64(s.mono())
	s.suspectGap(time.Duration(now - s.contacted.Load()))
	s.contacted.Store(now)
	if !s.anyAnswer.Load() {
		s.anyAnswer.Store(true)
	}
}

// isolated reports whether no other member has answered for longer than
// pauseLimit while there are others to answer.
func (s *Store) isolated() bool {
	return time.Duration(int64(s.mono())-s.contacted.Load()) > s.cfg.pauseLimit() && s.Table().hasOthers(s.name)
}

// suspectGap schedules a check (run by the heartbeat, beat) after a gap
// longer than pauseLimit, if this node is ready.
func (s *Store) suspectGap(gap time.Duration) {
	if gap <= s.cfg.pauseLimit() || !s.ready.Load() {
		return
	}
	s.pause.mu.Lock()
	defer s.pause.mu.Unlock()
	if s.pause.gap == 0 {
		s.pause.checking = make(chan struct{})
	}
	s.pause.gap = max(s.pause.gap, gap)
}

// checkPending reports whether a check is scheduled or running.
func (s *Store) checkPending() bool {
	s.pause.mu.Lock()
	defer s.pause.mu.Unlock()
	return s.pause.gap > 0
}

// afterPause waits until a pending pause check has ended (up to
// CallTimeout); it reports false when it did not end in time.
func (s *Store) afterPause(ctx context.Context) bool {
	s.pause.mu.Lock()
	checking := s.pause.checking
	pending := s.pause.gap > 0
	s.pause.mu.Unlock()
	if !pending {
		return true
	}
	t := time.NewTimer(s.cfg.CallTimeout)
	defer t.Stop()
	select {
	case <-checking:
		return true
	case <-t.C:
	case <-ctx.Done():
	}
	return false
}

// beat is the heartbeat: it checks for a pause and runs a pending check.
// When a member lost sight of this node, the check stays pending (Ready
// false, requests wait or fail over) until every member counts the node
// as a member again: until then their writes do not reach it, so what it
// pulls would go stale at once. Then it drops its holdings once more and
// pulls again, now with the writes copied to it.
func (s *Store) beat() {
	s.checkPause()
	s.pause.mu.Lock()
	gap, checking, resyncing := s.pause.gap, s.pause.checking, s.pause.resyncing
	s.pause.mu.Unlock()
	if gap == 0 {
		return
	}
	if len(s.members.others()) == 0 && s.members.stableSize() > 1 && !s.cfg.AvailableFirst {
		// Cut off long enough to have given up on the others, which did
		// not leave (the stable membership still counts them, quorum.go):
		// nobody to ask yet. Wait until gossip brings them back. (Put
		// availability first, the node alone serves what it has, as the
		// side of a split does.)
		return
	}
	answers := s.lostSight(gap)
	switch nextPauseStep(resyncing, len(s.members.others()), answers) {
	case pauseAskAgain:
		return
	case pauseResync:
		s.log.Warn("cluster: node was paused or cut off and a member lost sight of it; re-syncing before serving", "gap", gap)
		s.holdings.dropAll()
		s.pause.mu.Lock()
		s.pause.resyncing = true
		s.pause.mu.Unlock()
		return
	case pauseRepull:
		s.log.Info("cluster: every member counts this node again; pulling its partitions", "gap", gap)
		s.holdings.dropAll()
		s.kickMover()
	case pauseClear:
		s.log.Info("cluster: node was paused or cut off; no member lost sight of it", "gap", gap)
	}
	s.pause.mu.Lock()
	s.pause.gap, s.pause.resyncing = 0, false
	close(checking)
	s.pause.mu.Unlock()
}

// seenAnswers is what the other members told a pause check (lostSight).
type seenAnswers struct {
	heard   bool // at least one answered
	lost    bool // one that answered has not had this node as a member for the whole gap
	counted bool // every one that answered has it as a member now, with the same table
}

// pauseStep is what the heartbeat does next with a pending pause check.
type pauseStep int

const (
	pauseAskAgain pauseStep = iota // nothing decided yet: ask at the next beat
	pauseResync                    // a member lost sight of it: hold nothing until every member counts it again
	pauseRepull                    // every member counts it again: pull its partitions, then serve
	pauseClear                     // nobody lost sight of it: serve as before
)

// nextPauseStep decides a pending pause check from the members' answers.
// others is how many other members the table has; resyncing says the
// check already found a member that lost sight of this node and waits
// until every member counts it again.
func nextPauseStep(resyncing bool, others int, a seenAnswers) pauseStep {
	switch {
	case !a.heard && others > 0:
		return pauseAskAgain // nobody answers yet (still cut off)
	case !resyncing && a.lost:
		return pauseResync
	case resyncing && !a.counted:
		return pauseAskAgain
	case resyncing:
		return pauseRepull
	}
	return pauseClear
}

// lostSight asks every other member how long this node has been a member
// there without a break (opSeen), and sums up the answers (tallySeen).
func (s *Store) lostSight(gap time.Duration) seenAnswers {
	others := s.members.others()
	replies := make([]seenReply, len(others))
	answered := make([]bool, len(others))
	var wg sync.WaitGroup
	for i, m := range others {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := s.call(s.bg, m.Addr, opSeen, (&seenReq{name: s.name}).marshal())
			if err == nil {
				replies[i], err = parseSeenReply(resp)
				answered[i] = err == nil
			}
		}()
	}
	wg.Wait()
	return tallySeen(replies, answered, gap, s.Table().Fingerprint())
}

// tallySeen sums up the members' answers about a gap. A member that did
// not answer tells nothing: it may be the dead or frozen member whose
// silence caused the gap, and it is not writing anything this node could
// miss while it does not answer. print is this node's table fingerprint:
// a member counts this node only when it also routes as this node does.
func tallySeen(replies []seenReply, answered []bool, gap time.Duration, print uint64) seenAnswers {
	a := seenAnswers{counted: true}
	for i, r := range replies {
		if !answered[i] {
			continue
		}
		a.heard = true
		a.lost = a.lost || r.memberFor < gap
		a.counted = a.counted && r.memberFor > 0 && r.print == print
	}
	return a
}
