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
	Bytes           int64  `json:"bytes"`     // the memory its sessions take; -1 unknown (a node of an older version)
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
		ms.Sessions, ms.Bytes, ms.Error = -1, -1, err.Error()
		return
	}
	ms.Sessions, ms.Tombstones, ms.CountedAt, ms.Hinted = c.live, c.tombstones, c.at, c.hinted
	ms.UnderReplicated, ms.Conflicts, ms.Ready = c.underReplicated, c.conflicts, c.ready
	ms.Evictions, ms.Refused, ms.Bytes = c.evictions, c.refused, c.bytes
}

// counts is what this node holds (the reply of opCount).
func (s *Store) counts() countReply {
	var tl tally
	if p := s.tally.Load(); p != nil {
		tl = *p
	}
	return countReply{live: tl.live, tombstones: tl.tombstones, at: tl.at, hinted: s.hints.count(),
		underReplicated: s.UnderReplicated(), conflicts: s.Conflicts(), ready: s.Ready(),
		evictions: s.evictions.Load(), refused: s.refused.Load(), bytes: s.engine.Stats().Bytes}
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

// Stats is what this node alone knows of itself and of its view of the
// cluster: no peer call, no scan of the sessions, so a metrics scraper
// may read it as often as it likes (Status asks every member).
type Stats struct {
	Node     string // this node's name
	Members  int    // members in its table
	Epoch    uint64 // its table's epoch
	Ready    bool   // it serves (Ready)
	Joining  bool   // it is pulling its partitions and owns none yet
	Draining bool   // it is handing its sessions off before it leaves
	Quorum   bool   // it sees a majority of the last stable membership
	Primary  int    // partitions it is primary of
	Backup   int    // partitions it is a backup of
	// Sessions and Tombstones are as its last full scan counted them
	// (MemberStatus); Bytes is the memory its sessions hold now.
	Sessions, Tombstones int
	Bytes                int64
	Hinted               int // copies it keeps for an owner that did not answer
	UnderReplicated      int // as MemberStatus.UnderReplicated
	Syncing              int // partitions it owns but is still pulling (Syncing)

	// Counters since the node started.
	Conflicts        uint64  // conflicting copies its repairs resolved
	Evictions        uint64  // spare sessions evicted at its bounds
	Refused          uint64  // new sessions refused at its bounds
	Expired          uint64  // expired sessions and tombstones removed
	Replication      Latency // round trips of its writes to the other owners, until N copies held them
	PulledPartitions uint64  // partitions it pulled (after a join, a crash or a heal) and then held
	PulledSessions   uint64  // sessions streamed to it by pulls, those of anti-entropy repairs included
	HandedOff        uint64  // sessions it handed to their new owners and dropped (drain, anti-entropy)
	// KeptCopies counts saves this node sent, as a backup of the session,
	// whose copy it stored from the primary's answer instead of the
	// primary replicating it (flagKeep): such a write is in no
	// Replication round trip of the primary.
	KeptCopies uint64
	Repairs    uint64 // partitions anti-entropy found different from a replica and exchanged
	// LeaseReads counts loads this node served as a backup from its own
	// copy under a read lease, without asking the primary (leases.go).
	LeaseReads uint64
	// LeaseRevocations counts read leases this node, as a primary, ended
	// before acknowledging a write (or storing a copy) the backup holding
	// it lacked: a backup that did not answer, a stand-in's copy, a table
	// change. Each one made writes wait for the backup's answer or for
	// its lease to run out (at most ReadLease and an eighth).
	LeaseRevocations uint64
	// PeerErrors counts failed peer calls by kind, in the order of
	// PeerErrorKinds: transport failures only (a peer's error answer is
	// an answer).
	PeerErrors [numPeerErrorKinds]uint64
}

// Stats returns this node's Stats.
func (s *Store) Stats() Stats {
	t := s.Table()
	me, _ := t.Member(s.name)
	st := Stats{Node: s.name, Members: len(t.Members()), Epoch: t.Epoch(), Ready: s.Ready(), Joining: me.Joining,
		Draining: s.draining.Load(), Quorum: s.quorate(), Hinted: s.hints.count(),
		UnderReplicated: s.UnderReplicated(), Syncing: s.Syncing(),
		Conflicts: s.conflicts.Load(), Evictions: s.evictions.Load(), Refused: s.refused.Load(),
		Replication:      s.counters.replication.snapshot(),
		PulledPartitions: s.counters.pulledPartitions.Load(), PulledSessions: s.counters.pulledSessions.Load(),
		HandedOff: s.counters.handedOff.Load(), KeptCopies: s.counters.keptCopies.Load(), Repairs: s.counters.repairs.Load(),
		LeaseReads: s.counters.leaseReads.Load(), LeaseRevocations: s.counters.leaseRevocations.Load()}
	primary, backup := t.Roles(s.name)
	st.Primary, st.Backup = len(primary), len(backup)
	if tl := s.tally.Load(); tl != nil {
		st.Sessions, st.Tombstones = tl.live, tl.tombstones
	}
	es := s.engine.Stats()
	st.Bytes, st.Expired = es.Bytes, es.Expired
	for i := range st.PeerErrors {
		st.PeerErrors[i] = s.counters.peerErrors[i].Load()
	}
	return st
}
