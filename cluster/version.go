package cluster

import (
	"bytes"
	"cmp"
	"fmt"
	"hash/fnv"
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
// no ancestor of the winner). Conflicts are counted (Conflicts, Status)
// and logged where an owner's copy loses. Divergent histories whose loser
// was touched earlier look like an ordinary stale copy and are not
// counted: telling them apart would need a version vector per session.

// wins reports whether copy a of a session beats copy b: the higher
// version; for equal versions the later Touched, then the larger encoding
// (without the ID), so that every node picks the same copy.
func wins(a, b *session.Record) bool {
	if c := compareHeads(a, b); c != 0 {
		return c > 0
	}
	return bytes.Compare(anonymous(a), anonymous(b)) > 0
}

// winsStored is wins(rec, the stored copy), given the stored copy's binary
// form without the ID (what the engine keeps); it decodes the stored
// header only.
func winsStored(rec *session.Record, stored []byte) bool {
	var cur session.Record
	if cur.UnmarshalHeader(stored) != nil {
		return true // unreadable: anything is better
	}
	if c := compareHeads(rec, &cur); c != 0 {
		return c > 0
	}
	return bytes.Compare(anonymous(rec), stored) > 0
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

// divergedStored returns the stored copy (binary form without the ID)
// when it diverged from winner (see diverged), nil otherwise. It decodes
// the header only, unless the copy did diverge.
func divergedStored(stored []byte, winner *session.Record) *session.Record {
	var loser session.Record
	if loser.UnmarshalHeader(stored) != nil {
		return nil
	}
	if loser.Version == winner.Version && bytes.Equal(stored, anonymous(winner)) ||
		loser.Version != winner.Version && !loser.Touched.After(winner.Touched) {
		return nil
	}
	if loser.UnmarshalBinary(stored) != nil {
		return nil
	}
	loser.ID = winner.ID
	return &loser
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

func isTombstone(rec *session.Record) bool { return rec.Created.IsZero() }

// entryHash is one session's share of its partition's digest.
func entryHash(rec *session.Record) uint64 {
	h := fnv.New64a()
	h.Write([]byte(rec.ID))
	return mix64(h.Sum64() ^ mix64(rec.Version) ^ mix64(uint64(nanos(rec.Touched))))
}

// merge stores rec unless this node's copy wins over it, and reports
// whether it was stored. A copy of an owned partition that loses while
// holding a write rec lacks counts as a conflict.
func (s *Store) merge(rec *session.Record) (bool, error) {
	if !session.ValidID(rec.ID) {
		return false, fmt.Errorf("%w: merge of invalid ID %.50q", ErrBadMessage, rec.ID)
	}
	if rec.Expired(s.cfg.Now()) {
		return false, nil
	}
	var lost *session.Record
	stored, err := s.engine.PutIf(rec.ID, rec, func(cur []byte) bool {
		if !winsStored(rec, cur) {
			return false
		}
		lost = divergedStored(cur, rec)
		return true
	})
	if lost != nil {
		s.conflict(lost, rec)
	}
	if stored {
		s.wrote(s.Table().Partition(rec.ID))
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
