package cluster

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"hash/fnv"
	"sync"
	"time"

	"github.com/sessionmesh/sessionmesh/session"
)

// Anti-entropy and repair. Replicas can differ after a split brain (both
// sides served), a hinted copy that never went home, or a write that
// reached only some replicas before its primary died. Every
// AntiEntropyInterval a node scans its sessions once and computes a
// digest per partition: the sum of a hash of (ID, version, touched) over
// its sessions and tombstones, so order does not matter. It sends, to
// each other owner of the partitions it is primary for, their digests;
// the other side answers, from its own last round's digests, which
// differ. Partitions written since either scan or within the last half
// interval are left out: they differ by writes in flight. For the
// partitions that differ both sides stream their copies to each other,
// and each keeps what wins (merge). The same round hands the copies of
// partitions this node no longer owns to their owners and drops them
// (handOff).
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

// wrote records a write to partition p. Anti-entropy leaves partitions
// written within the last half interval alone: their replicas are likely
// to differ only by writes still being replicated, and comparing them
// would move data for nothing.
func (s *Store) wrote(p int) { s.written[p].Store(int64(s.mono())) }

// settled reports whether partition p has not been written here for half
// an anti-entropy interval.
func (s *Store) settled(p int) bool {
	return s.mono()-time.Duration(s.written[p].Load()) >= s.cfg.AntiEntropyInterval/2
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

// entryHash is one session's share of its partition's digest.
func entryHash(rec *session.Record) uint64 {
	h := fnv.New64a()
	h.Write([]byte(rec.ID))
	return mix64(h.Sum64() ^ mix64(rec.Version) ^ mix64(uint64(nanos(rec.Touched))))
}

// antiEntropy runs one round (see the top of this file). A node that is
// joining or draining has nothing to compare yet, or any more.
func (s *Store) antiEntropy() {
	t := s.Table()
	if !s.ready.Load() || s.draining.Load() {
		s.survey(t, make([]bool, t.Partitions()), false) // keeps the tally
		return
	}
	ctx := s.bg
	s.receivers.prune(t, time.Now())
	owned := ownedBy(t, s.name)
	at := s.mono()
	sums, foreign := s.survey(t, owned, true)
	s.digests.Store(&digests{sums: sums, owned: owned, at: at})
	if _, err := s.handOff(ctx, t, foreign); err != nil {
		s.log.Warn("cluster: hand-off of copies this node no longer owns is incomplete; retrying next round", "err", err)
	}
	for _, m := range splitSelf(t.Members(), s.name) {
		if err := s.compare(ctx, t, m, s.digests.Load()); err != nil {
			s.log.Warn("cluster: anti-entropy with a replica failed", "replica", m.Name, "err", err)
		}
	}
}

// survey scans this node's sessions once: the digests of the partitions
// in owned and, with collect, the copies of the others. It keeps the
// tally of live sessions and tombstones that Status reports.
func (s *Store) survey(t *Table, owned []bool, collect bool) (sums []uint64, foreign []session.Record) {
	sums = make([]uint64, t.Partitions())
	tl := tally{at: s.cfg.Now()} // every write before the scan starts is seen
	s.engine.Range(func(id string, rec session.Record) bool {
		if isTombstone(&rec) {
			tl.graves++
		} else {
			tl.live++
		}
		if p := t.Partition(id); owned[p] {
			sums[p] += entryHash(&rec)
		} else if collect {
			foreign = append(foreign, rec)
		}
		return true
	})
	s.tally.Store(&tl)
	return sums, foreign
}

// digests are the partition digests of this node's last round, which
// also answer the other replicas' digest requests until the next one: a
// round costs each node one scan of its sessions, however many replicas
// ask.
type digests struct {
	sums  []uint64
	owned []bool        // the partitions sums covers
	at    time.Duration // mono() when the scan started
}

// current reports whether partition p's digest is worth comparing: the
// scan covered it, nothing was written to it since the scan began or in
// the last half interval (replicas differing only by writes in flight),
// and this node holds it (one still pulling it gets it anyway).
func (s *Store) current(dg *digests, p int) bool {
	return dg != nil && dg.owned[p] && time.Duration(s.written[p].Load()) < dg.at &&
		s.settled(p) && s.holdings.holds(p)
}

// compare sends m the digests of the partitions this node is primary for
// and m replicates, then exchanges the partitions whose digests differ.
func (s *Store) compare(ctx context.Context, t *Table, m Member, dg *digests) error {
	var ds []digest
	for p := range dg.sums {
		if own := t.Owners(p); len(own) > 1 && own[0].Name == s.name && t.IsOwner(p, m.Name) && s.current(dg, p) {
			ds = append(ds, digest{part: p, sum: dg.sums[p]})
		}
	}
	if len(ds) == 0 {
		return nil
	}
	resp, err := s.call(ctx, m.Addr, opDigest, appendDigests(nil, ds))
	if err != nil {
		return err
	}
	d := reader{b: resp}
	differ := d.ints()
	if err := d.done("digest reply"); err != nil || len(differ) == 0 {
		return err
	}
	s.log.Info("cluster: replicas differ; exchanging partitions", "replica", m.Name, "partitions", len(differ))
	return s.exchange(ctx, m, differ)
}

// exchange streams both copies of parts across, each side keeping what
// wins.
func (s *Store) exchange(ctx context.Context, m Member, parts []int) error {
	want := make([]bool, s.cfg.Partitions)
	for _, p := range parts {
		want[p] = true
	}
	var wg sync.WaitGroup
	var pullErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		pullErr = s.pull(ctx, m, parts, false)
	}()
	_, pushErr := s.stream(ctx, m, func(p int) bool { return want[p] })
	wg.Wait()
	if pullErr != nil {
		return pullErr
	}
	return pushErr
}

// handleDigest answers which of the sender's digests differ from this
// node's last round's, among the partitions worth comparing here.
func (s *Store) handleDigest(body []byte) ([]byte, error) {
	ds, err := parseDigests(body)
	if err != nil {
		return nil, err
	}
	dg := s.digests.Load()
	var differ []int
	for _, x := range ds {
		if x.part >= s.cfg.Partitions {
			return nil, fmt.Errorf("%w: digest of partition %d of %d", ErrBadMessage, x.part, s.cfg.Partitions)
		}
		if s.current(dg, x.part) && dg.sums[x.part] != x.sum {
			differ = append(differ, x.part)
		}
	}
	return appendInts(nil, differ), nil
}

// Conflicts returns how many of this node's copies repairs replaced with
// a conflicting winner (see merge). Summed over the members (Status) every
// conflicting session counts at least once; a session whose losing copy
// was on two owners counts twice.
func (s *Store) Conflicts() uint64 { return s.conflicts.Load() }
