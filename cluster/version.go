package cluster

import (
	"bytes"
	"cmp"
	"fmt"
	"time"

	"github.com/sessionmesh/sessionmesh/session"
)

// Copies and versions. Every write at a session's primary bumps its
// version (Patch.Apply); Delete and Renew leave a tombstone with the next
// version. Copies meet when a replica takes a put, a node pulls or is
// handed a partition, and when anti-entropy exchanges partitions that
// differ; each time the receiving node keeps the copy that wins (merge).
//
// Which copy wins is decided the same way on every node, so replicas
// converge: the higher version; for equal versions the later Touched, then
// the larger encoding. A conflict is a losing copy that held a write the
// winner lacks: the same version with other content (both sides of a
// split wrote once), or a lower version touched later than the winner
// (the loser's side wrote after the winner's last write, so the loser is
// no ancestor of the winner; Patch.Apply never moves Touched back, so the
// writes one primary ordered never look like that, whatever the clocks of
// the workers that sent them). Conflicts are counted (Conflicts, Status)
// and logged where an owner's copy loses. Divergent histories whose loser
// was touched earlier look like an ordinary stale copy and are not
// counted: telling them apart would need a version vector per session.

// wins reports whether copy a of a session beats copy b: the higher
// version; for equal versions the later Touched, then the larger encoding
// (without the ID), so that every node picks the same copy.
func wins(a, b *session.Record) bool { return winsBinary(anonymous(a), anonymous(b)) }

// winsBinary is wins on copies in binary form without the ID, what the
// engine keeps and what replicas are sent; it decodes the headers only. A
// copy that does not decode loses.
func winsBinary(a, b []byte) bool {
	var ha, hb session.Record
	switch {
	case ha.UnmarshalHeader(a) != nil:
		return false
	case hb.UnmarshalHeader(b) != nil:
		return true
	}
	if c := compareHeads(&ha, &hb); c != 0 {
		return c > 0
	}
	return bytes.Compare(a, b) > 0
}

func compareHeads(a, b *session.Record) int {
	switch {
	case a.Version != b.Version:
		return cmp.Compare(a.Version, b.Version)
	case !a.Touched.Equal(b.Touched):
		return a.Touched.Compare(b.Touched)
	}
	return 0
}

// anonymous is rec's binary form without its ID.
func anonymous(rec *session.Record) []byte {
	r := *rec
	r.ID = ""
	return r.AppendBinary(nil)
}

// diverged reports whether loser holds a write winner lacks (see the top
// of this file).
func diverged(loser, winner *session.Record) bool {
	if loser.Version == winner.Version {
		return !bytes.Equal(anonymous(loser), anonymous(winner))
	}
	return loser.Touched.After(winner.Touched)
}

// divergedBinary returns the losing copy loser (binary form without the
// ID) decoded when it diverged from winner, whose header is wh (see
// diverged), and nil otherwise. It decodes loser's header only, unless the
// copy did diverge.
func divergedBinary(loser, winner []byte, wh *session.Record) *session.Record {
	var lost session.Record
	if lost.UnmarshalHeader(loser) != nil {
		return nil
	}
	if lost.Version == wh.Version && bytes.Equal(loser, winner) ||
		lost.Version != wh.Version && !lost.Touched.After(wh.Touched) {
		return nil
	}
	if lost.UnmarshalBinary(loser) != nil {
		return nil
	}
	return &lost
}

// A tombstone is what Delete and Renew leave behind: a record with no
// Created time (every live record has one, Patch.Apply sets it), the
// next version, and the deadline of the record it buries, so it outlives
// every stale copy that could bring the session back and then expires.
func tombstone(rec session.Record, now time.Time) session.Record {
	// Touched never goes back (a repair reads a lower version touched
	// later than the winner as a conflicting write).
	if rec.Touched.After(now) {
		now = rec.Touched
	}
	return session.Record{ID: rec.ID, Touched: now, Idle: rec.Deadline(), Version: rec.Version + 1}
}

// evictedTombstone buries a session evicted to respect a node's bounds
// (bounds.go): as tombstone, but it expires after grace, not with the
// record, so evictions under a flood cost memory only briefly. A replica
// that missed it may bring the session back once it expired (anti-entropy);
// the session was spare, and may go again.
func evictedTombstone(rec session.Record, now time.Time, grace time.Duration) session.Record {
	g := tombstone(rec, now)
	g.Idle = minTime(g.Idle, now.Add(grace))
	return g
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

func isTombstone(rec *session.Record) bool { return rec.Created.IsZero() }

// isTombstoneBinary is isTombstone of a record in binary form; one that
// does not decode counts as one (nothing to serve).
func isTombstoneBinary(data []byte) bool {
	var h session.Record
	return h.UnmarshalHeader(data) != nil || isTombstone(&h)
}

// entryHash is session id's share of its partition's digest, from rec's
// header.
func entryHash[T string | []byte](id T, rec *session.Record) uint64 {
	return mix64(fnv64a(id) ^ mix64(rec.Version) ^ mix64(uint64(nanos(rec.Touched))))
}

// merge stores rec unless this node's copy wins over it, and reports
// whether it was stored (see mergeBinary).
func (s *Store) merge(rec *session.Record) (bool, error) {
	return s.mergeBinary(rec.ID, anonymous(rec))
}

// mergeBinary stores data, a copy of session id in binary form without
// the ID, unless this node's copy wins over it, and reports whether it was
// stored: the one place a copy from elsewhere (a replica put, a transfer,
// a repair, an install) lands. A copy of an owned partition that loses
// while holding a write data lacks counts as a conflict.
func (s *Store) mergeBinary(id string, data []byte) (bool, error) {
	var head session.Record
	switch {
	case !session.ValidID(id):
		return false, fmt.Errorf("%w: merge of invalid ID %.50q", ErrBadMessage, id)
	case head.UnmarshalHeader(data) != nil || head.ID != "":
		return false, fmt.Errorf("%w: merge of %.50q: not a record without its ID", ErrBadMessage, id)
	case head.Expired(s.cfg.Now()):
		return false, nil
	}
	if s.overHard() && !s.engine.Has(id) {
		return false, fmt.Errorf("%w: node %s is a quarter over its bounds; it takes no new copies", session.ErrFull, s.name)
	}
	var lost *session.Record
	stored, err := s.engine.PutIf(id, data, func(cur []byte) bool {
		if !winsBinary(data, cur) {
			return false
		}
		lost = divergedBinary(cur, data, &head)
		return true
	})
	if lost != nil {
		lost.ID, head.ID = id, id
		s.conflict(lost, &head)
	}
	if stored {
		s.wrote(s.Table().Partition(id))
	}
	return stored, err
}

func (s *Store) conflict(lost, won *session.Record) {
	t := s.Table()
	if !t.IsOwner(t.Partition(won.ID), s.name) {
		return // a stale copy on its way out; an owner's copy decides
	}
	s.conflicts.Add(1)
	s.log.Warn("cluster: conflicting copies of a session; the newer wins",
		"partition", t.Partition(won.ID), "lost_version", lost.Version, "lost_touched", lost.Touched,
		"won_version", won.Version, "won_touched", won.Touched)
}

// Conflicts returns how many of this node's copies repairs replaced with
// a conflicting winner (see merge). Summed over the members (Status) every
// conflicting session counts at least once; a session whose losing copy
// was on two owners counts twice.
func (s *Store) Conflicts() uint64 { return s.conflicts.Load() }
