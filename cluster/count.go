package cluster

import (
	"context"
	"encoding/binary"
	"fmt"

	"github.com/sessionmesh/sessionmesh/session"
)

// Counting the sessions (session.Counter). Every node holds copies, so
// the members' own counts (Status) add up to about N times the sessions.
// Count asks every member instead for the live sessions of each
// partition it holds completely (opTally: a scan of its copies), and
// takes each partition's count from one member that holds it: the
// primary in this node's table when it answered, else the largest
// count among the others that hold it (a copy not deleted yet on a
// replica counts; a write in flight may be missing). Like a listing
// (principals.go), it fails with ErrUnavailable naming the members that
// did not answer when the answers do not cover every partition.

// Count implements session.Counter (see above). It costs every member a
// scan of its sessions: an operator's figure, not one for a request.
func (s *Store) Count(ctx context.Context) (int, error) {
	s.calls.enter()
	defer s.calls.exit()
	if s.closed.Load() {
		return 0, fmt.Errorf("cluster: count: %w", session.ErrClosed)
	}
	t := s.Table()
	members := t.Members()
	replies, errs := askAll(members, func(m Member) (map[int]int, error) { return s.askTally(ctx, m) })
	perPartition := make([]int, s.cfg.Partitions)
	covered := make([]bool, s.cfg.Partitions)
	fromPrimary := make([]bool, s.cfg.Partitions)
	for i, counts := range replies {
		if errs[i] != nil {
			continue
		}
		for p, n := range counts {
			switch {
			case t.IsPrimary(p, members[i].Name):
				perPartition[p], fromPrimary[p] = n, true
			case !fromPrimary[p]:
				perPartition[p] = max(perPartition[p], n)
			}
			covered[p] = true
		}
	}
	if missing := s.cfg.Partitions - countTrue(covered); missing > 0 {
		return 0, fmt.Errorf("cluster: count: %w", notCovered("the sessions of", "counted", missing, s.cfg.Partitions, members, errs))
	}
	total := 0
	for _, n := range perPartition {
		total += n
	}
	return total, nil
}

// askTally is one member's live sessions per partition it holds: this
// node's in process, another's over the peer transport.
func (s *Store) askTally(ctx context.Context, m Member) (map[int]int, error) {
	if m.Name == s.name {
		return s.tallyHere(), nil
	}
	resp, err := s.call(ctx, m.Addr, opTally, nil)
	if err != nil {
		return nil, err
	}
	return parseTally(resp, s.cfg.Partitions)
}

// tallyHere counts the live sessions of each partition this node holds
// completely (holdings.go); a partition it holds with none counts 0.
func (s *Store) tallyHere() map[int]int {
	counts := map[int]int{}
	for p := range s.cfg.Partitions {
		if s.holdings.holds(p) {
			counts[p] = 0
		}
	}
	t := s.Table()
	now := s.cfg.Now()
	s.engine.RangeBinary(func(id, data []byte) bool {
		var rec session.Record // the header is all this reads
		if rec.UnmarshalHeader(data) != nil || isTombstone(&rec) || rec.Expired(now) {
			return true
		}
		p := partitionOf(t, id)
		if _, held := counts[p]; held {
			counts[p]++
		}
		return true
	}, nil)
	return counts
}

// handleTally answers opTally.
func (s *Store) handleTally() ([]byte, error) {
	counts := s.tallyHere()
	b := binary.AppendUvarint(nil, uint64(len(counts)))
	for p, n := range counts {
		b = binary.AppendUvarint(b, uint64(p))
		b = binary.AppendUvarint(b, uint64(n))
	}
	return b, nil
}

// parseTally parses an opTally reply: partitions below partitions, each
// once.
func parseTally(b []byte, partitions int) (map[int]int, error) {
	d := reader{b: b}
	n := d.count(2) // a partition and a count
	counts := make(map[int]int, min(n, partitions))
	for range n {
		p, c := d.int(), d.int()
		if _, dup := counts[p]; dup || p >= partitions {
			d.fail(fmt.Sprintf("partition %d repeated or out of range", p))
			break
		}
		counts[p] = c
	}
	return counts, d.done("tally reply")
}
