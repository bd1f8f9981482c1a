package cluster

import "time"

// The split-brain guard (on unless Config.AvailableFirst). A node cannot tell a crashed
// member from one behind a network split, so it counts against the last
// membership that was stable: the member set becomes stable once it has
// not changed for StableAfter and still holds a majority of the previous
// stable set. A minority therefore never adopts its own view (it keeps
// refusing writes until the split heals), while the majority adopts its
// smaller view after a crash and tolerates the next one. Members that
// drain before they leave are dropped from the stable set at once
// (NotifyLeave), so a rolling restart never costs the quorum. Members
// that join are added to it at once: a larger set only asks for a larger
// majority, and a node that just joined (its stable set was itself) must
// not count itself a majority when a split cuts it off before StableAfter.
//
// A split into two equal halves (two workers, four, ...) would leave no
// side a majority; there the half that holds the stable set's first
// member by name has quorum. Every node computes the same first member
// from the same stable set, so exactly one half serves. With two workers
// that means: either one can be cut off from the other without a lost
// write; a crash of the second by name leaves the first serving, a crash
// of the first stops the second until a worker comes back (a restarted
// worker is a new member, counted at once).

// stableSet is the last stable membership and when the member set last
// changed: the quorum guard's whole state, and a pure rule (membership
// calls it under its lock, with its members and its clock).
type stableSet struct {
	names map[string]bool
	since time.Time // when the member set last changed
}

// newStableSet starts with self alone, the member set changed at now.
func newStableSet(self string, now time.Time) stableSet {
	return stableSet{names: map[string]bool{self: true}, since: now}
}

// joined counts a new member at once (see above).
func (q *stableSet) joined(name string) { q.names[name] = true }

// left drops a member that drained before it left: it left on purpose.
func (q *stableSet) left(name string) { delete(q.names, name) }

// changed records a change of the member set.
func (q *stableSet) changed(now time.Time) { q.since = now }

// quorate reports whether members, the current members, include more
// than half of the stable set, or exactly half with its first member by
// name (see above). Once the member set has not changed for after and
// holds such a majority, it becomes the stable set.
func (q *stableSet) quorate(members map[string]Member, now time.Time, after time.Duration) bool {
	seen, first := 0, ""
	for name := range q.names {
		if _, ok := members[name]; ok {
			seen++
		}
		if first == "" || name < first {
			first = name
		}
	}
	_, tie := members[first]
	if 2*seen < len(q.names) || 2*seen == len(q.names) && !tie {
		return false
	}
	if now.Sub(q.since) >= after {
		q.names = make(map[string]bool, len(members))
		for name := range members {
			q.names[name] = true
		}
	}
	return true
}

// is reports whether members are exactly the stable set.
func (q *stableSet) is(members map[string]Member) bool {
	if len(members) != len(q.names) {
		return false
	}
	for name := range members {
		if !q.names[name] {
			return false
		}
	}
	return true
}

// size is the number of members in the stable set.
func (q *stableSet) size() int { return len(q.names) }

// quorate reports whether this node sees more than half of the last
// stable membership. Every request asks, so the usual answer is read
// without the lock: while the members are exactly the stable set, the
// node is quorate and stays so until the member set changes (which
// clears whole), since adopting the same set again changes nothing.
func (m *membership) quorate() bool {
	if m.whole.Load() {
		return true
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	ok := m.stable.quorate(m.members, m.clock(), m.cfg.StableAfter)
	m.whole.Store(ok && m.stable.is(m.members))
	return ok
}

// stableSize returns the size of the last stable membership (Status).
func (m *membership) stableSize() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.stable.size()
}
