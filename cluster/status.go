package cluster

import (
	"context"
	"slices"
	"strings"
	"sync"
	"time"
)

// Status is a node's view of the cluster, shaped for JSON (the demo's
// GET /cluster).
type Status struct {
	Node       string `json:"node"`  // the node that answered
	Ready      bool   `json:"ready"` // whether it serves (Ready)
	Epoch      uint64 `json:"epoch"` // its table's epoch
	Partitions int    `json:"partitions"`
	Replicas   int    `json:"replicas"`
	// UnderReplicated sums the members' UnderReplicated: the copies the
	// cluster is short of. 0 means every partition has N copies.
	UnderReplicated int `json:"underReplicated"`
	// Conflicts sums the members' Conflicts.
	Conflicts uint64         `json:"conflicts"`
	Quorum    bool           `json:"quorum"`  // this node sees a majority of the last stable membership
	Stable    int            `json:"stable"`  // size of the last stable membership (the quorum guard counts against it)
	Members   []MemberStatus `json:"members"` // sorted by name
}

// MemberStatus is one member in a Status.
type MemberStatus struct {
	Name     string `json:"name"`
	Addr     string `json:"addr"`
	Draining bool   `json:"draining"`
	Primary  []int  `json:"primary"` // partitions it is primary for
	Backup   []int  `json:"backup"`  // partitions it is a backup for
	// Sessions and Tombstones are the live sessions and the tombstones
	// (deleted sessions remembered so no replica revives them) the member
	// held at CountedAt, its last full scan (every anti-entropy round):
	// counting on every call would scan every session each time.
	Sessions   int       `json:"sessions"`
	Tombstones int       `json:"tombstones"`
	CountedAt  time.Time `json:"countedAt"`
	Hinted     int       `json:"hinted"`  // copies kept for an owner that did not answer
	Joining    bool      `json:"joining"` // pulling its partitions; owns none yet
	Ready      bool      `json:"ready"`   // the member's own Ready
	// UnderReplicated is how many partitions the member owns but does not
	// hold yet (it is pulling them), plus, for the partitions it is
	// primary of, the copies missing because fewer than N nodes are
	// eligible.
	UnderReplicated int    `json:"underReplicated"`
	Conflicts       uint64 `json:"conflicts"` // conflicting copies its repairs resolved
	Evictions       uint64 `json:"evictions"` // spare sessions it evicted at its bounds (Config.MaxBytes)
	Refused         uint64 `json:"refused"`   // new sessions it refused at its bounds
	Error           string `json:"error,omitempty"`
}

// Status returns the members, the epoch and, per member, its partitions
// and the sessions it holds; other members' counts are fetched over the
// peer transport in parallel (a member that does not answer in time has
// Sessions -1 and Error set). It costs no scan of the sessions.
func (s *Store) Status(ctx context.Context) Status {
	t := s.Table()
	st := Status{Node: s.name, Ready: s.Ready(), Epoch: t.Epoch(), Partitions: t.Partitions(), Replicas: s.cfg.Replicas, Quorum: s.quorate(), Stable: s.members.stableSize()}
	members := t.Members()
	st.Members = make([]MemberStatus, len(members))
	var wg sync.WaitGroup
	for i, m := range members {
		ms := &st.Members[i]
		*ms = MemberStatus{Name: m.Name, Addr: m.Addr, Draining: m.Draining, Joining: m.Joining}
		ms.Primary, ms.Backup = t.Roles(m.Name)
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.fillCounts(ctx, ms)
		}()
	}
	wg.Wait()
	for _, ms := range st.Members {
		st.UnderReplicated += max(ms.UnderReplicated, 0)
		st.Conflicts += ms.Conflicts
	}
	slices.SortFunc(st.Members, func(a, b MemberStatus) int { return strings.Compare(a.Name, b.Name) })
	return st
}

func (s *Store) fillCounts(ctx context.Context, ms *MemberStatus) {
	c, err := s.counts(), error(nil)
	if ms.Name != s.name {
		var body []byte
		if body, err = s.call(ctx, ms.Addr, opCount, nil); err == nil {
			c, err = parseCount(body)
		}
	}
	if err != nil {
		ms.Sessions, ms.Error = -1, err.Error()
		return
	}
	ms.Sessions, ms.Tombstones, ms.CountedAt, ms.Hinted = c.live, c.tombstones, c.at, c.hinted
	ms.UnderReplicated, ms.Conflicts, ms.Ready = c.underReplicated, c.conflicts, c.ready
	ms.Evictions, ms.Refused = c.evictions, c.refused
}

// counts is what this node holds (the reply of opCount).
func (s *Store) counts() countReply {
	var tl tally
	if p := s.tally.Load(); p != nil {
		tl = *p
	}
	return countReply{live: tl.live, tombstones: tl.tombstones, at: tl.at, hinted: s.hints.count(),
		underReplicated: s.UnderReplicated(), conflicts: s.Conflicts(), ready: s.Ready(),
		evictions: s.evictions.Load(), refused: s.refused.Load()}
}

// UnderReplicated returns how many copies this node is short of: the
// partitions it owns but does not hold yet (it is pulling them after a
// join, a crash or a heal), plus, for the partitions it is primary of,
// the copies missing because fewer than N nodes are eligible. Summed
// over the members (Status) it is 0 when every partition has N copies.
func (s *Store) UnderReplicated() int {
	t := s.Table()
	short := 0
	for p := range t.Partitions() {
		if own := t.Owners(p); len(own) > 0 && own[0].Name == s.name {
			short += max(s.cfg.Replicas-len(own), 0)
		}
	}
	return short + s.syncing(t, false)
}

// Syncing returns how many partitions this node is still pulling: those
// it owns (or, while joining, will own) but does not hold yet. A node
// serves none of them (the requests fail over to replicas that hold
// them); 0 means it holds everything it owns.
func (s *Store) Syncing() int { return s.syncing(s.Table(), true) }

func (s *Store) syncing(t *Table, target bool) int {
	var owned []bool
	if target {
		owned = ownedBy(t, s.name)
	} else {
		owned = make([]bool, t.Partitions())
		for p := range owned {
			owned[p] = t.IsOwner(p, s.name)
		}
	}
	return s.holdings.missing(owned)
}

// tally is what the last full scan of this node's sessions counted (an
// anti-entropy round scans them all anyway): a status page that scanned
// on every request would cost a pass over every session each time.
type tally struct {
	live, tombstones int
	at               time.Time
}
