package cluster

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/sessionmesh/sessionmesh/session"
)

// Ready reports whether this node is serving: it has joined, pulled the
// partitions it owns and told the others, and it is neither draining nor
// closed. A load balancer's readiness check (the demo's /readyz) should
// answer with it. Until a node is ready it owns no partitions; requests
// it receives are routed to the nodes that do.
func (s *Store) Ready() bool {
	return s.ready.Load() && !s.draining.Load() && !s.closed.Load()
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
// with DrainTimeout.
func (s *Store) Drain(ctx context.Context) error {
	err := s.drain(ctx)
	if err != nil {
		s.log.Error("cluster: drain incomplete", "err", err)
	}
	return errors.Join(err, s.halt(true))
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
	if err := s.handOff(ctx, t, held); err != nil {
		return fmt.Errorf("cluster: drain %s: %w", s.name, err)
	}
	s.log.Info("cluster: drained", "sessions", len(held))
	return nil
}

// handOff sends recs, copies of partitions this node does not own, to
// the owners of their partitions in t, in parallel per owner, and drops
// each copy every owner acknowledged (unless it changed meanwhile).
func (s *Store) handOff(ctx context.Context, t *Table, recs []session.Record) error {
	if len(recs) == 0 {
		return nil
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
		if n, ok := pending[rec.ID]; ok && n == 0 {
			s.dropIfUnchanged(rec)
		}
	}
	if orphans > 0 {
		// The last node of a cluster: nobody is left to take them, and
		// saying so is all there is to do; it is not a failed hand-off.
		s.log.Warn("cluster: no other node to hand sessions to; they end with this node", "sessions", orphans)
	}
	return errors.Join(errs...)
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
// still rec's version: a newer one arrived through a write that
// replicated it to the owners itself.
func (s *Store) dropIfUnchanged(rec session.Record) {
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
