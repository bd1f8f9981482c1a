package cluster

// The split-brain guard (Config.Quorum). A node cannot tell a crashed
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

// quorate reports whether this node sees more than half of the last
// stable membership.
func (m *membership) quorate() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	seen := m.seenStableLocked()
	if m.clock().Sub(m.since) >= m.cfg.StableAfter && 2*seen > len(m.stable) {
		m.adoptStableLocked()
		seen = len(m.stable)
	}
	return 2*seen > len(m.stable)
}

func (m *membership) seenStableLocked() int {
	seen := 0
	for name := range m.stable {
		if _, ok := m.members[name]; ok {
			seen++
		}
	}
	return seen
}

func (m *membership) adoptStableLocked() {
	m.stable = make(map[string]bool, len(m.members))
	for name := range m.members {
		m.stable[name] = true
	}
}

// stableSize returns the size of the last stable membership (Status).
func (m *membership) stableSize() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.stable)
}
