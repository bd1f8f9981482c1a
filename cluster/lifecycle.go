package cluster

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// Ready reports whether this node is serving: it has joined, pulled the
// partitions it owns and told the others, it is neither draining nor
// closed, and (unless Config.AvailableFirst) it sees a majority of the last stable
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
	return s.ready.Load() && s.member() && !s.draining.Load() && !s.closed.Load() && s.quorate() &&
		!s.isolated() && !s.cutOff() && !s.checkPending()
}

// cutOff reports whether the connections to most of the other members
// have just failed (downs.go), before gossip says so: a node cut off
// from the cluster reports not ready within a request or two, so that a
// balancer stops sending it requests it could only refuse. It counts
// against readiness alone: requests are refused by the quorum guard, on
// gossip's word. With the guard off (AvailableFirst) a cut-off node keeps
// serving, and stays ready.
func (s *Store) cutOff() bool {
	if s.cfg.AvailableFirst {
		return false
	}
	members, now, down := s.Table().members, s.mono(), 0
	for _, m := range members {
		if m.Name != s.name && s.down.down(m.Name, now) {
			down++
		}
	}
	return 2*(len(members)-down) < len(members)
}

// member reports whether this node belongs to a cluster: it has joined
// another node, or has no seeds, or started a cluster of its own because
// none of its seeds answered (checkJoin). A node whose seeds answer but
// do not let it join (another cluster secret) is none of these: it is not
// Ready and, with the quorum guard, refuses requests, instead of serving
// sessions of its own that no other worker sees.
func (s *Store) member() bool { return s.joined.Load() || s.alone.Load() }

// checkJoin runs after each rejoin until the node is a member (see
// member): when no seed but itself exists, or none has answered for
// BootstrapTimeout, the node starts a cluster of its own; when a seed
// answers but the node still has not joined, it says why in its log.
func (s *Store) checkJoin() {
	if s.member() {
		return
	}
	answered, others := s.members.seedsAnswer(min(s.cfg.RejoinInterval, time.Second))
	switch {
	case others == 0:
		s.alone.Store(true)
		s.log.Info("cluster: the seeds name only this node; it starts a cluster", "seeds", s.cfg.Join)
	case answered:
		s.log.Error("cluster: seeds answer but do not let this node join; it serves nothing until it joins. "+
			"Does it have the cluster's secret?", "seeds", s.cfg.Join)
	case s.mono() >= s.cfg.BootstrapTimeout:
		s.alone.Store(true)
		s.log.Warn("cluster: no seed answered within BootstrapTimeout; this node starts a new cluster",
			"seeds", s.cfg.Join, "waited", s.cfg.BootstrapTimeout)
	}
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
//  4. it tells every member it is gone (they drop it from their tables at
//     once), leaves the gossip and stops, like Shutdown.
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
		return errors.Join(fmt.Errorf("cluster: drain %s: wait for requests in flight: %w", s.name, err), s.writeSnapshot())
	}
	t := s.Table()
	_, held := s.survey(t, make([]bool, t.Partitions()), true, nil)
	if err := errors.Join(s.handOffAll(ctx, held), s.writeSnapshot()); err != nil {
		return fmt.Errorf("cluster: drain %s: %w", s.name, err)
	}
	s.log.Info("cluster: drained", "sessions", len(held))
	// Every session is on its new owners: the members may drop this node
	// now, instead of when gossip says it left. Until then they still ask
	// it for copies (it is a source while draining), and once it stops
	// answering, the quorum guard fails those reads rather than risk a
	// stale one.
	if meta, err = s.members.updateSelf(func(m *nodeMeta) { m.Left = true }); err != nil {
		s.log.Warn("cluster: gossip of leaving failed; members learn it directly", "err", err)
	}
	s.tell(ctx, meta)
	return nil
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

// goLoop runs f every interval until Close, tracked by wg.
func (s *Store) goLoop(interval time.Duration, f func()) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-s.stop:
				return
			case <-t.C:
				f()
			}
		}
	}()
}

// Close drains the node (Drain, bounded by DrainTimeout): it hands every
// session it holds to the new owners, leaves the cluster and stops. It is
// idempotent and waits for every goroutine it started.
func (s *Store) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.DrainTimeout)
	defer cancel()
	return s.Drain(ctx)
}

// Shutdown stops the node without handing off or leaving: to the others
// it looks like a crash (tests use it to kill a node). It is idempotent.
func (s *Store) Shutdown() error { return s.halt(false) }

func (s *Store) halt(leave bool) error {
	var err error
	s.stopOnce.Do(func() {
		s.closed.Store(true)
		if leave { // let the calls in progress finish their peer calls
			ctx, cancel := context.WithTimeout(context.Background(), s.cfg.CallTimeout)
			s.calls.wait(ctx)
			cancel()
		}
		close(s.stop)
		s.cancelBg()
		s.wg.Wait()
		if leave {
			// The members were told directly (drain); a leave broadcast
			// that gossip did not confirm in time costs nothing but a
			// log line.
			if lerr := s.members.leave(); lerr != nil {
				s.log.Warn("cluster: leave broadcast not confirmed", "err", lerr)
			}
		} else {
			err = s.members.shutdown()
		}
		err = errors.Join(err, s.server.Close(), s.client.Close(), s.engine.Close())
		if err != nil {
			err = fmt.Errorf("cluster: close node %s: %w", s.name, err)
		}
	})
	return err
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
