package cluster

import (
	"context"
	"sync"
	"time"

	"github.com/sessionmesh/sessionmesh/internal/engine"
	"github.com/sessionmesh/sessionmesh/session"
)

// Anti-entropy and repair. Replicas can differ after a split brain (both
// sides served), a hinted copy that never went home, or a write that
// reached only some replicas before its primary died. Every
// AntiEntropyInterval a node scans its sessions once, spread over a tenth
// of the interval, and computes a digest per partition: the sum of a
// hash of (ID, version, touched) over its sessions and tombstones, so
// order does not matter. It sends, to each other owner of the partitions
// it is primary for, their digests; the other side answers, from its own
// last round's digests, which differ. Partitions written since either
// scan began or within the last half interval are left out: they differ
// by writes in flight. For the partitions that differ both sides stream
// their copies to each other, and each keeps what wins (merge,
// version.go). The same round hands the copies of partitions this node no
// longer owns to their owners and drops them (handOff, transfer.go).

// antiEntropy runs one round (see the top of this file). A node that is
// joining or draining has nothing to compare yet, or any more.
func (s *Store) antiEntropy() {
	s.reportBounds()
	t := s.Table()
	if !s.ready.Load() || s.draining.Load() {
		s.survey(t, make([]bool, t.Partitions()), false, s.spread()) // keeps the tally
		return
	}
	ctx := s.bg
	s.receivers.prune(t, time.Now())
	owned := ownedBy(t, s.name)
	at := s.mono()
	sums, foreign := s.survey(t, owned, true, s.spread())
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

// survey scans this node's sessions once: the digests of the partitions
// in owned and, with collect, the copies of the others. It keeps the
// tally of live sessions and tombstones that Status reports. between, if
// not nil, runs between two of the engine's shards (spread).
func (s *Store) survey(t *Table, owned []bool, collect bool, between func()) (sums []uint64, foreign []session.Record) {
	sums = make([]uint64, t.Partitions())
	tl := tally{at: s.cfg.Now()} // every write before the scan starts is seen
	s.engine.RangeBinary(func(id, data []byte) bool {
		var rec session.Record // the header only: what the digest and the tally read
		if rec.UnmarshalHeader(data) != nil {
			return true
		}
		if isTombstone(&rec) {
			tl.tombstones++
		} else {
			tl.live++
		}
		if p := partitionOf(t, id); owned[p] {
			sums[p] += entryHash(id, &rec)
		} else if collect {
			if whole, err := decodeFound(string(id), data); err == nil {
				foreign = append(foreign, whole)
			}
		}
		return true
	}, between)
	s.tally.Store(&tl)
	return sums, foreign
}

// spread returns the pause a round's scan makes between two of the
// engine's shards, so that the scan takes a tenth of AntiEntropyInterval
// instead of a processor in one burst: at a million sessions the burst
// was the round-robin p99 (BENCHMARKS.md). The digests stay exact however
// long the scan takes: a partition written after it began is not compared
// (current). A closing store's pauses end at once.
func (s *Store) spread() func() {
	d := s.cfg.AntiEntropyInterval / 10 / engine.DefaultShards
	return func() {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
		case <-s.bg.Done():
		}
	}
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
	differ, err := parseDiffer(resp)
	if err != nil || len(differ) == 0 {
		return err
	}
	s.log.Info("cluster: replicas differ; exchanging partitions", "replica", m.Name, "partitions", len(differ))
	s.counters.repairs.Add(uint64(len(differ)))
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
