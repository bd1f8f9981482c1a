package cluster

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/sessionmesh/sessionmesh/session"
)

// Ready reports whether this node is serving: it has joined, pulled the
// partitions it owns and told the others, it is neither draining nor
// closed, and, with Config.Quorum, it sees a majority of the last stable
// membership. A load balancer's readiness check (the demo's /readyz)
// should answer with it. Until a node is ready it owns no partitions;
// requests it receives are routed to the nodes that do.
//
// A node that no other member has answered for longer than failure
// detection is not ready either, nor is one checking whether the others
// declared it dead meanwhile (pause.go).
//
// The quorum condition is what makes a network split safe behind a
// balancer: a node cut off from the others believes them dead and takes
// over their partitions from its own, soon stale, copies. When the
// network comes back, the balancer reaches it again before gossip tells
// it the others are alive; were it ready then, it would serve those
// stale copies, and a write on top of one loses the writes made
// meanwhile. In the minority it is not ready, and once it sees the
// majority again it no longer trusts its copies of the partitions the
// reappeared members own (holdings.update) until it has pulled them.
func (s *Store) Ready() bool {
	return s.ready.Load() && !s.draining.Load() && !s.closed.Load() && s.quorate() &&
		!s.isolated() && !s.checkPending()
}

// announceReady ends a join: the node marks itself ready in its own table
// first, so it serves its partitions from now on, then tells every member
// directly, so their tables route to it within a round trip instead of
// some gossip rounds. Until they hear, they serve the partitions as
// before and copy their writes here (receivers).
func (s *Store) announceReady(ctx context.Context) {
	if s.ready.Load() || s.draining.Load() {
		return
	}
	meta, err := s.members.updateSelf(func(m *nodeMeta) { m.Joining = false })
	if err != nil {
		s.log.Warn("cluster: gossip of readiness failed; members learn it directly", "err", err)
	}
	s.tell(ctx, meta)
	s.ready.Store(true)
	s.log.Info("cluster: node ready", "epoch", s.Table().Epoch())
}

// tell sends this node's metadata to every other member, in parallel.
func (s *Store) tell(ctx context.Context, meta nodeMeta) {
	body := (&memberReq{name: s.name, meta: meta}).marshal()
	var wg sync.WaitGroup
	for _, m := range s.members.others() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := s.call(ctx, m.Addr, opMember, body); err != nil {
				s.log.Debug("cluster: direct member notice failed; gossip will tell", "member", m.Name, "err", err)
			}
		}()
	}
	wg.Wait()
}

// handleMember takes a member's new metadata. A member that became ready
// first gets the hinted copies kept for it, so it does not serve without
// a write that was copied to it and failed.
func (s *Store) handleMember(ctx context.Context, body []byte) ([]byte, error) {
	req, err := parseMember(body)
	if err != nil {
		return nil, err
	}
	known := s.members.apply(req.name, req.meta)
	if m, ok := s.Table().Member(req.name); ok && !m.Joining && !m.Draining {
		s.handBack(ctx, s.Table(), m, s.hints.snapshot()[m.Name])
	}
	return []byte{boolByte(known)}, nil
}

// Drain leaves the cluster without losing a session and stops the node:
//
//  1. Ready turns false and the node marks itself draining, in its own
//     table, in gossip and directly at every member, so every table gives
//     its partitions to the next nodes in HRW order (the backups, which
//     hold the data, become primaries) and requests reaching it are
//     redirected there;
//  2. it waits for the requests it was serving to finish (their copies
//     went to the old owners);
//  3. it sends every session it holds to the partition's owners in the
//     new table and waits for their acknowledgement;
//  4. it leaves the gossip and stops, like Shutdown.
//
// ctx bounds steps 2 and 3; when it ends first, the sessions not yet
// acknowledged are left behind (the other N-1 copies remain) and Drain
// returns an error, but still stops. Drain is idempotent; Close calls it
// with DrainTimeout. Drain is HandOff followed by Close.
func (s *Store) Drain(ctx context.Context) error {
	return errors.Join(s.HandOff(ctx), s.halt(true))
}

// HandOff is Drain without the stop (steps 1 to 3): when it returns, the
// node holds nothing the others lack, yet it still routes the requests
// it gets to the partitions' owners, as any node does. A server stops
// taking requests after HandOff and closes the store after that (Close
// returns quickly then), so no request that reaches it in between fails:
// on SIGTERM, fail readiness, HandOff, http.Server.Shutdown, Close.
// HandOff is idempotent; a second call waits for the first.
func (s *Store) HandOff(ctx context.Context) error {
	err := s.drain(ctx)
	if err != nil {
		s.log.Error("cluster: drain incomplete", "err", err)
	}
	return err
}

func (s *Store) drain(ctx context.Context) error {
	if s.closed.Load() {
		return nil
	}
	if !s.draining.CompareAndSwap(false, true) {
		select { // a concurrent Drain: stop only after its hand-off
		case <-s.drained:
		case <-ctx.Done():
		}
		return nil
	}
	defer close(s.drained)
	meta, err := s.members.updateSelf(func(m *nodeMeta) { m.Draining = true })
	if err != nil {
		s.log.Warn("cluster: gossip of draining failed; members learn it directly", "err", err)
	}
	s.tell(ctx, meta)
	if err := s.serving.wait(ctx); err != nil {
		return fmt.Errorf("cluster: drain %s: wait for requests in flight: %w", s.name, err)
	}
	t := s.Table()
	_, held := s.survey(t, make([]bool, t.Partitions()), true)
	if err := s.handOffAll(ctx, held); err != nil {
		return fmt.Errorf("cluster: drain %s: %w", s.name, err)
	}
	s.log.Info("cluster: drained", "sessions", len(held))
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
	for _, rec := range recs {
		switch n, ok := pending[rec.ID]; {
		case ok && n == 0:
			s.dropIfUnchanged(rec)
		case ok:
			left = append(left, rec)
		}
	}
	if orphans > 0 {
		// The last node of a cluster: nobody is left to take them, and
		// saying so is all there is to do; it is not a failed hand-off.
		s.log.Warn("cluster: no other node to hand sessions to; they end with this node", "sessions", orphans)
	}
	return left, errors.Join(errs...)
}

// accept admits a copy (a replica put or a merged batch) sent by another
// node; the caller stores it and then calls done. A draining or closed
// node refuses: its copy would leave with it, so the sender (whose table
// is behind) must count, or hand off to, another node. Counting the copy
// as in flight before the check means Drain, which marks the node
// draining and then waits for what is in flight before it surveys its
// sessions, either refuses a copy or hands it off.
func (s *Store) accept(what string) (done func(), err error) {
	s.serving.enter()
	if s.draining.Load() || s.closed.Load() {
		s.serving.exit()
		return nil, fmt.Errorf("%s on %s: draining: %w", what, s.name, ErrNotOwner)
	}
	return s.serving.exit, nil
}

// pushAll pushes each destination's records in parallel and counts down
// pending per acknowledged record.
func (s *Store) pushAll(ctx context.Context, dests map[string]Member, byDest map[string][]session.Record, pending map[string]int) []error {
	var mu sync.Mutex // guards pending and errs
	var errs []error
	var wg sync.WaitGroup
	for name, recs := range byDest {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := s.push(ctx, dests[name], recs)
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

// inflight counts the requests a node is serving, so Drain can wait for
// them.
type inflight struct {
	mu   sync.Mutex // guards n and idle
	n    int
	idle chan struct{} // closed when n drops to zero
}

func (f *inflight) enter() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.n == 0 {
		f.idle = make(chan struct{})
	}
	f.n++
}

func (f *inflight) exit() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.n--
	if f.n == 0 {
		close(f.idle)
	}
}

// wait returns when no request is in flight, or ctx's error.
func (f *inflight) wait(ctx context.Context) error {
	f.mu.Lock()
	idle := f.idle
	busy := f.n > 0
	f.mu.Unlock()
	if !busy {
		return nil
	}
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
