package cluster

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/sessionmesh/sessionmesh/session"
)

// Moving partitions. Every node runs one mover (moveLoop). After each
// table change it pulls the partitions it owns but does not hold
// (holdings.go): on start-up all of them, after a crash the partitions it
// took over, after a heal those whose owners it had lost sight of. A
// pull asks each source (the other candidates of the partition: its
// owners and the next node, which may keep hinted copies) to stream its
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
// whether nothing is missing any more.
func (s *Store) pullRound(ctx context.Context) (progress, done bool) {
	t := s.Table()
	parts, gens := s.holdings.wanted(ownedBy(t, s.name), s.cfg.PullPartitions)
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
			progress = true
		}
	}
	return progress, false
}

// sources returns the nodes that may hold partition p besides self: its
// candidates (the owners and the next node in HRW order, which may keep
// hinted copies) and the draining members, which hold what they owned
// until their hand-off is done. Joining members hold nothing the owners
// lack.
func sources(t *Table, p int, self string) []Member {
	out := splitSelf(t.Candidates(p), self)
	for _, m := range t.members {
		if m.Draining && m.Name != self {
			out = append(out, m)
		}
	}
	return out
}

// pullSources returns the nodes self pulls partition p from: its
// sources, and, while self is joining, the other joining members too.
// Two workers that join at once each become ready on their own, and each
// may serve as primary while its table still shows the other joining:
// registered with each other (pull), each copies such writes to the
// other, as the old owners do. Without it, the one whose table is behind
// writes without the other, which already serves the partition as its
// authority and answers from a stale copy.
func pullSources(t *Table, p int, self Member) []Member {
	out := sources(t, p, self.Name)
	if self.Joining {
		for _, m := range t.members {
			if m.Joining && m.Name != self.Name {
				out = append(out, m)
			}
		}
	}
	return out
}

func anyIn(ms []Member, names map[string]bool) bool {
	for _, m := range ms {
		if names[m.Name] {
			return true
		}
	}
	return false
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
	ctx, cancel := context.WithTimeout(ctx, s.cfg.TransferTimeout)
	defer cancel()
	start := time.Now()
	req := pullReq{register: register, name: s.name, addr: s.peerAddr, parts: parts}
	resp, err := s.caller.Call(ctx, src.Addr, opPull, req.marshal())
	if err != nil {
		return fmt.Errorf("pull %d partitions from %s: %w", len(parts), src.Name, fromRemote(err))
	}
	n, _ := binary.Uvarint(resp)
	s.log.Info("cluster: pulled partitions", "source", src.Name, "partitions", len(parts), "sessions", n, "took", time.Since(start))
	return nil
}

// handlePull serves a pull: register the puller (before the scan, so a
// write either lands in the scan or is copied to the puller), then stream.
func (s *Store) handlePull(ctx context.Context, body []byte) ([]byte, error) {
	req, err := parsePull(body)
	if err != nil {
		return nil, err
	}
	want := make([]bool, s.cfg.Partitions)
	for _, p := range req.parts {
		if p >= len(want) {
			return nil, fmt.Errorf("%w: pull of partition %d of %d", ErrBadMessage, p, len(want))
		}
		want[p] = true
	}
	to := Member{Name: req.name, Addr: req.addr}
	if req.register {
		// The lease outlasts any join; it only ends copies to a puller
		// that died before gossip ever showed it here.
		s.receivers.add(to, req.parts, time.Now().Add(10*s.cfg.TransferTimeout))
	}
	ctx, cancel := context.WithCancel(ctx)
	defer context.AfterFunc(s.bg, cancel)()
	defer cancel()
	n, err := s.stream(ctx, to, func(p int) bool { return want[p] })
	if err != nil {
		return nil, fmt.Errorf("stream to %s: %w", to.Name, err)
	}
	return binary.AppendUvarint(nil, uint64(n)), nil
}

// stream sends this node's sessions (tombstones included) of the
// partitions want accepts to dest, in batches, one in flight. It returns
// how many it sent.
func (s *Store) stream(ctx context.Context, dest Member, want func(p int) bool) (int, error) {
	t := s.Table()
	b := batch{}
	var err error
	s.engine.Range(func(id string, rec session.Record) bool {
		if !want(t.Partition(id)) {
			return true
		}
		if b.add(&rec) >= batchBytes {
			err = s.sendBatch(ctx, dest, &b)
		}
		return err == nil
	})
	if err == nil {
		err = s.sendBatch(ctx, dest, &b)
	}
	return b.sent, err
}

// push sends recs to dest in batches.
func (s *Store) push(ctx context.Context, dest Member, recs []session.Record) error {
	b := batch{}
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
	buf  []byte
	n    int
	sent int
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
	ctx, cancel := context.WithTimeout(ctx, s.cfg.TransferTimeout)
	defer cancel()
	if _, err := s.caller.Call(ctx, dest.Addr, opMerge, body); err != nil {
		return fmt.Errorf("send %d sessions to %s: %w", b.n, dest.Name, fromRemote(err))
	}
	b.sent += b.n
	b.buf, b.n = b.buf[:0], 0
	return nil
}

// handleMerge stores every record of a batch that wins over this node's
// copy and answers how many did. A draining node refuses (accept).
func (s *Store) handleMerge(body []byte) ([]byte, error) {
	recs, err := parseRecords(body)
	if err != nil {
		return nil, err
	}
	done, err := s.accept("merge")
	if err != nil {
		return nil, err
	}
	defer done()
	stored := 0
	var errs []error
	for i := range recs {
		ok, err := s.merge(&recs[i])
		if ok {
			stored++
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("merge %d of %d sessions failed: %w", len(errs), len(recs), err)
	}
	return binary.AppendUvarint(nil, uint64(stored)), nil
}

// receivers are the joining nodes pulling partitions from this node: they
// get a copy of every write this node applies to those partitions
// (replicate) while they are joining, or not yet members here (gossip is
// behind). Once ready a node owns the partitions (and gets the writes as
// a replica) or does not (and needs none); one that leaves the table, or
// never shows up in it before its lease runs out, died.
type receivers struct {
	mu     sync.Mutex                  // guards byPart
	byPart map[int]map[string]receiver // partition -> puller name -> lease
}

type receiver struct {
	m     Member
	until time.Time
}

func (r *receivers) add(m Member, parts []int, until time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.byPart == nil {
		r.byPart = map[int]map[string]receiver{}
	}
	for _, p := range parts {
		if r.byPart[p] == nil {
			r.byPart[p] = map[string]receiver{}
		}
		r.byPart[p][m.Name] = receiver{m: m, until: until}
	}
}

// of returns the receivers of p that still need copies, forgetting the
// others.
func (r *receivers) of(p int, t *Table, self string, now time.Time) []Member {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []Member
	for name, rc := range r.byPart[p] {
		if done(t, name, rc, now) {
			delete(r.byPart[p], name)
		} else if name != self {
			out = append(out, rc.m)
		}
	}
	if len(r.byPart[p]) == 0 {
		delete(r.byPart, p)
	}
	return out
}

// forget drops every registration of the puller named name.
func (r *receivers) forget(name string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for p, byName := range r.byPart {
		delete(byName, name)
		if len(byName) == 0 {
			delete(r.byPart, p)
		}
	}
}

// lookup returns the receiver named name, if any partition has one.
func (r *receivers) lookup(name string) (Member, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, byName := range r.byPart {
		if rc, ok := byName[name]; ok {
			return rc.m, true
		}
	}
	return Member{}, false
}

// done reports whether a receiver needs no more copies: its lease ran
// out, or t shows it as a member that is no longer joining.
func done(t *Table, name string, rc receiver, now time.Time) bool {
	m, ok := t.Member(name)
	return now.After(rc.until) || ok && !m.Joining
}

// prune forgets the receivers that need no more copies.
func (r *receivers) prune(t *Table, now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for p, byName := range r.byPart {
		for name, rc := range byName {
			if done(t, name, rc, now) {
				delete(byName, name)
			}
		}
		if len(byName) == 0 {
			delete(r.byPart, p)
		}
	}
}
