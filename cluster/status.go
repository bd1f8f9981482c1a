package cluster

import (
	"context"
	"slices"
	"strings"
	"sync"
)

// Status is a node's view of the cluster, shaped for JSON (the demo's
// GET /cluster).
type Status struct {
	Node       string         `json:"node"`  // the node that answered
	Epoch      uint64         `json:"epoch"` // its table's epoch
	Partitions int            `json:"partitions"`
	Replicas   int            `json:"replicas"`
	Members    []MemberStatus `json:"members"` // sorted by name
}

// MemberStatus is one member in a Status.
type MemberStatus struct {
	Name     string `json:"name"`
	Addr     string `json:"addr"`
	Draining bool   `json:"draining"`
	Primary  []int  `json:"primary"` // partitions it is primary for
	Backup   []int  `json:"backup"`  // partitions it is a backup for
	Sessions int    `json:"sessions"`
	Deleted  int    `json:"tombstones"` // deleted sessions remembered so no replica revives them
	Hinted   int    `json:"hinted"`     // copies kept for an owner that did not answer
	Error    string `json:"error,omitempty"`
}

// Status returns the members, the epoch and, per member, its partitions
// and the sessions it holds; other members' counts are fetched over the
// peer transport in parallel (a member that does not answer in time has
// Sessions -1 and Error set).
func (s *Store) Status(ctx context.Context) Status {
	t := s.Table()
	st := Status{Node: s.name, Epoch: t.Epoch(), Partitions: t.Partitions(), Replicas: s.cfg.Replicas}
	members := t.Members()
	st.Members = make([]MemberStatus, len(members))
	var wg sync.WaitGroup
	for i, m := range members {
		ms := &st.Members[i]
		*ms = MemberStatus{Name: m.Name, Addr: m.Addr, Draining: m.Draining}
		ms.Primary, ms.Backup = t.Roles(m.Name)
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.fillCounts(ctx, ms)
		}()
	}
	wg.Wait()
	slices.SortFunc(st.Members, func(a, b MemberStatus) int { return strings.Compare(a.Name, b.Name) })
	return st
}

func (s *Store) fillCounts(ctx context.Context, ms *MemberStatus) {
	var body []byte
	var err error
	if ms.Name == s.name {
		body = s.handleCount()
	} else {
		body, err = s.call(ctx, ms.Addr, opCount, nil)
	}
	if err == nil {
		d := reader{b: body}
		ms.Sessions, ms.Deleted, ms.Hinted = int(d.uvarint()), int(d.uvarint()), int(d.uvarint())
		err = d.done("count")
	}
	if err != nil {
		ms.Sessions, ms.Error = -1, err.Error()
	}
}
