package cluster

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sessionmesh/sessionmesh/session"
)

// Moving partitions. Every node runs one mover (moveLoop). After each
// table change it pulls the partitions it owns but does not hold
// (holdings.go): on start-up all of them, after a crash the partitions it
// took over, after a heal those whose owners it had lost sight of. A
// pull asks each source (the other candidates of the partition: its
// owners and the stand-in, which may keep hinted copies) to stream its
// sessions of up to PullPartitions partitions; the puller merges them by
// version (merge) and holds a partition once every source has answered.
//
// A joining node pulls before it is ready, while the old owners keep
// serving. So that no write slips between a source's scan and the flip,
// the pull registers the puller with the source before the scan starts:
// from then on every write the source applies to those partitions is
// copied to the puller too (receivers, replicate), for as long as the
// source's table shows the puller joining (or not yet at all). Copies
// that fail become hinted copies for the puller, handed back when it
// answers again, and at the latest when it announces itself ready.
// Workers that join at once pull from (and so register with) each other
// as well: each becomes ready on its own, and until the other's table
// shows it ready, the other may serve some of its partitions as primary
// (pullSources).

// batchBytes is the size at which a transfer sends a batch of records;
// one batch is in flight per transfer, so this bounds its memory.
const batchBytes = 256 << 10

// moveLoop pulls what this node is missing until Close, and announces the
// node ready once it holds everything it owns.
func (s *Store) moveLoop() {
	defer s.wg.Done()
	for {
		changed := s.TableChanged()
		progress, done := s.pullRound(s.bg)
		if done {
			s.pushRestored(s.bg)
			s.announceReady(s.bg)
		}
		if progress && !done {
			continue
		}
		retry := make(<-chan time.Time)
		if !done {
			retry = time.After(s.cfg.ProbeInterval) // a source did not answer
		}
		select {
		case <-s.stop:
			return
		case <-changed:
		case <-s.kick:
		case <-retry:
		}
	}
}

// kickMover makes the mover look again without waiting for a change.
func (s *Store) kickMover() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// pullRound pulls up to PullPartitions missing partitions from their
// sources in parallel. It reports whether any partition became held and
// whether nothing is missing any more; neither when the table it read is
// being replaced (the mover waits for the new one).
func (s *Store) pullRound(ctx context.Context) (progress, done bool) {
	t := s.Table()
	parts, gens, current := s.holdings.wanted(t, ownedBy(t, s.name), s.cfg.PullPartitions)
	if !current {
		return false, false
	}
	if len(parts) == 0 {
		return false, true
	}
	me, _ := t.Member(s.name)
	bySource, members := map[string][]int{}, map[string]Member{}
	for _, p := range parts {
		for _, m := range pullSources(t, p, me) {
			bySource[m.Name] = append(bySource[m.Name], p)
			members[m.Name] = m
		}
	}
	failed := s.pullAll(ctx, members, bySource, me.Joining)
	for i, p := range parts {
		if !anyIn(pullSources(t, p, me), failed) {
			s.holdings.markHeld(p, gens[i])
			s.counters.pulledPartitions.Add(1)
			progress = true
		}
	}
	return progress, false
}

// pullAll runs one pull per source in parallel and returns the sources
// that failed.
func (s *Store) pullAll(ctx context.Context, members map[string]Member, bySource map[string][]int, register bool) map[string]bool {
	var mu sync.Mutex // guards failed
	failed := map[string]bool{}
	var wg sync.WaitGroup
	for name, parts := range bySource {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.pull(ctx, members[name], parts, register); err != nil {
				s.log.Warn("cluster: pull failed; retrying", "source", name, "partitions", len(parts), "err", err)
				mu.Lock()
				failed[name] = true
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return failed
}

// pull asks src to stream its sessions of parts to this node, which
// merges them as they come (handleMerge). With register, src also copies
// the writes it applies to parts here until this node owns them.
func (s *Store) pull(ctx context.Context, src Member, parts []int, register bool) error {
	start := time.Now()
	req := pullReq{register: register, name: s.name, addr: s.peerAddr, parts: parts}
	resp, err := s.callWithin(ctx, s.cfg.TransferTimeout, src.Addr, opPull, req.marshal())
	if err != nil {
		return fmt.Errorf("pull %d partitions from %s: %w", len(parts), src.Name, err)
	}
	n, _ := parseNumber(resp)
	s.counters.pulledSessions.Add(uint64(n))
	s.log.Info("cluster: pulled partitions", "source", src.Name, "partitions", len(parts), "sessions", n, "took", time.Since(start))
	return nil
}

// stream sends this node's sessions (tombstones included) of the
// partitions want accepts to dest, in batches, one in flight. It returns
// how many it sent.
func (s *Store) stream(ctx context.Context, dest Member, want func(p int) bool) (int, error) {
	t := s.Table()
	b := batch{}
	var err error
	s.engine.RangeBinary(func(id, data []byte) bool {
		if !want(partitionOf(t, id)) {
			return true // decoded only when wanted
		}
		rec, derr := decodeFound(string(id), data)
		if derr != nil {
			return true
		}
		if b.add(&rec) >= batchBytes {
			err = s.sendBatch(ctx, dest, &b)
		}
		return err == nil
	}, nil)
	if err == nil {
		err = s.sendBatch(ctx, dest, &b)
	}
	return b.sent, err
}

// push sends recs to dest in batches, counting them in pr.
func (s *Store) push(ctx context.Context, dest Member, recs []session.Record, pr *progress) error {
	b := batch{progress: pr}
	for i := range recs {
		if b.add(&recs[i]) >= batchBytes {
			if err := s.sendBatch(ctx, dest, &b); err != nil {
				return err
			}
		}
	}
	return s.sendBatch(ctx, dest, &b)
}

// batch collects encoded records for one opMerge call.
type batch struct {
	buf      []byte
	n        int
	sent     int
	progress *progress // the hand-off it is part of; nil: none to report
}

// progress reports a long hand-off (a drain of many sessions) as it goes:
// a line at most every progressEvery, so an operator watching a worker
// drain sees it move, while a short one logs nothing until it is done.
type progress struct {
	s     *Store
	total int // copies to send, to every owner
	every time.Duration

	mu   sync.Mutex // guards sent and last
	sent int
	last time.Time
}

// progressEvery is how often a hand-off logs its progress; a variable so
// that a test can make it log every batch.
var progressEvery atomic.Int64

func init() { progressEvery.Store(int64(2 * time.Second)) }

func (s *Store) newProgress(total int) *progress {
	return &progress{s: s, total: total, every: time.Duration(progressEvery.Load()), last: time.Now()}
}

// add counts n copies acknowledged and logs the progress when it is time.
func (pr *progress) add(n int) {
	if pr == nil {
		return
	}
	pr.mu.Lock()
	defer pr.mu.Unlock()
	pr.sent += n
	if now := time.Now(); now.Sub(pr.last) >= pr.every {
		pr.last = now
		pr.s.log.Info("cluster: handing sessions off", "sent", pr.sent, "of", pr.total)
	}
}

// add encodes rec into the batch and returns the batch's size.
func (b *batch) add(rec *session.Record) int {
	b.buf = appendRecord(b.buf, rec)
	b.n++
	return len(b.buf)
}

// sendBatch delivers the batch (if not empty) and empties it. A batch
// may take a loaded receiver longer than CallTimeout to merge; it is
// bounded by TransferTimeout (and ctx) instead, so a busy node slows a
// transfer down rather than failing it over and over.
func (s *Store) sendBatch(ctx context.Context, dest Member, b *batch) error {
	if b.n == 0 {
		return nil
	}
	body := binary.AppendUvarint(make([]byte, 0, len(b.buf)+binary.MaxVarintLen64), uint64(b.n))
	body = append(body, b.buf...)
	if _, err := s.callWithin(ctx, s.cfg.TransferTimeout, dest.Addr, opMerge, body); err != nil {
		return fmt.Errorf("send %d sessions to %s: %w", b.n, dest.Name, err)
	}
	b.sent += b.n
	b.progress.add(b.n)
	b.buf, b.n = b.buf[:0], 0
	return nil
}

// handOffAll hands recs off, retrying what was not acknowledged with the
// table as it is then, after a table change or a backoff, at most
// handOffAttempts times in all (and within ctx). When several nodes drain
// at once (a scale-down), one may offer its sessions to another that is
// leaving too and has not told it yet; that node refuses (accept), and
// the next attempt finds the owners that stay. An owner that does not
// answer at all is not waited for beyond the attempts: its sessions have
// their other copies.
func (s *Store) handOffAll(ctx context.Context, recs []session.Record) error {
	backoff := 20 * time.Millisecond
	for attempt := 1; ; attempt++ {
		changed := s.TableChanged()
		left, err := s.handOff(ctx, s.Table(), recs)
		if err == nil {
			return nil
		}
		recs = left
		if attempt == handOffAttempts {
			return fmt.Errorf("%d sessions not handed off after %d attempts: %w", len(recs), attempt, err)
		}
		s.log.Warn("cluster: hand-off incomplete; retrying", "sessions", len(recs), "err", err)
		select {
		case <-changed:
		case <-time.After(backoff):
			backoff *= 2
		case <-ctx.Done():
			return fmt.Errorf("%d sessions not handed off: %w", len(recs), errors.Join(err, ctx.Err()))
		}
	}
}

// handOffAttempts bounds handOffAll: with its doubling backoff from 20ms,
// about 2.5 s when no table change comes.
const handOffAttempts = 8

// handOff sends recs, copies of partitions this node does not own, to
// the owners of their partitions in t, in parallel per owner, and drops
// each copy every owner acknowledged (unless it changed meanwhile). It
// returns the records some owner did not acknowledge.
func (s *Store) handOff(ctx context.Context, t *Table, recs []session.Record) (left []session.Record, err error) {
	if len(recs) == 0 {
		return nil, nil
	}
	byDest, dests := map[string][]session.Record{}, map[string]Member{}
	pending := make(map[string]int, len(recs))
	orphans := 0
	for _, rec := range recs {
		owners := splitSelf(t.Owners(t.Partition(rec.ID)), s.name)
		if len(owners) == 0 {
			orphans++
			continue
		}
		pending[rec.ID] = len(owners)
		for _, m := range owners {
			byDest[m.Name] = append(byDest[m.Name], rec)
			dests[m.Name] = m
		}
	}
	errs := s.pushAll(ctx, dests, byDest, pending)
	handed := 0
	for _, rec := range recs {
		switch n, ok := pending[rec.ID]; {
		case ok && n == 0:
			s.dropIfUnchanged(rec)
			handed++
		case ok:
			left = append(left, rec)
		}
	}
	if handed > 0 {
		s.counters.handedOff.Add(uint64(handed))
		s.log.Info("cluster: handed sessions to their owners", "sessions", handed, "owners", len(dests), "left", len(left))
	}
	if orphans > 0 {
		// The last node of a cluster: nobody is left to take them, and
		// saying so is all there is to do; it is not a failed hand-off.
		s.log.Warn("cluster: no other node to hand sessions to; they end with this node", "sessions", orphans)
	}
	return left, errors.Join(errs...)
}

// pushAll pushes each destination's records in parallel and counts down
// pending per acknowledged record.
func (s *Store) pushAll(ctx context.Context, dests map[string]Member, byDest map[string][]session.Record, pending map[string]int) []error {
	var mu sync.Mutex // guards pending and errs
	var errs []error
	var wg sync.WaitGroup
	total := 0
	for _, recs := range byDest {
		total += len(recs)
	}
	pr := s.newProgress(total)
	for name, recs := range byDest {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := s.push(ctx, dests[name], recs, pr)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, fmt.Errorf("hand %d sessions to %s: %w", len(recs), name, err))
				return
			}
			for _, r := range recs {
				pending[r.ID]--
			}
		}()
	}
	wg.Wait()
	return errs
}

// dropIfUnchanged removes this node's copy of rec's session if it is
// still rec's version (a newer one arrived through a write that
// replicated it to the owners itself) and this node does not own the
// partition in its current table (the hand-off used an older one).
func (s *Store) dropIfUnchanged(rec session.Record) {
	if t := s.Table(); t.IsOwner(t.Partition(rec.ID), s.name) {
		return
	}
	if cur, ok := s.engine.Get(rec.ID); ok && cur.Version == rec.Version {
		s.engine.Remove(rec.ID)
	}
}
