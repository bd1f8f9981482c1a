package cluster

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/sessionmesh/sessionmesh/internal/engine"
	"github.com/sessionmesh/sessionmesh/session"
)

// serve runs a routed request on this node, the primary (or an acting
// primary on failover) of the session's partition.
func (s *Store) serve(ctx context.Context, op uint8, req routed) ([]byte, error) {
	s.serving.enter()
	defer s.serving.exit()
	if s.closed.Load() {
		return nil, session.ErrClosed
	}
	if s.checkPause(); !s.afterPause(ctx) {
		return nil, fmt.Errorf("on %s, checking a pause: %w", s.name, ErrNotSynced)
	}
	t := s.Table()
	p := t.Partition(req.routingID())
	if err := s.admit(t, p, req.header); err != nil {
		return nil, err
	}
	if !s.quorate() { // reads too: a stale read in the minority is where a lost write starts
		return nil, ErrNoQuorum
	}
	// Set either way (a renew serves its install in-process with this
	// ctx), but only where it changes what ctx says: a context per
	// request is an allocation.
	if silent := req.flags&flagSilent != 0; silent != earlierSilent(ctx) {
		ctx = context.WithValue(ctx, silentKey{}, silent)
	}
	switch op {
	case opLoad:
		data, found, err := s.loadCopy(ctx, p, req.id)
		if err != nil {
			return nil, err
		}
		return marshalFound(data, found), nil
	case opSave:
		kept, err := s.save(ctx, p, req.id, req.patch, keeper(req))
		if err != nil || kept == nil {
			return nil, err
		}
		return marshalFound(kept, true), nil
	case opDelete:
		return nil, s.remove(ctx, p, req.id)
	case opInstall:
		return nil, s.install(ctx, p, req.id, req.rec)
	}
	return nil, fmt.Errorf("%w: unknown op %d", ErrBadMessage, op)
}

// admit decides whether this node serves a request for partition p: the
// primary always does; a replica does when the sender failed over or was
// redirected; anyone else redirects the sender to its primary, unless
// the request was redirected already. A failover that reaches a node
// whose table no longer has it among the candidates (it drains, or the
// sender's table is behind) is redirected too: the sender's next
// candidate may be just as outdated.
func (s *Store) admit(t *Table, p int, h header) error {
	top := t.top[p] // not t.Candidates: no allocation on every request
	if len(top) == 0 {
		return fmt.Errorf("partition %d: no members: %w", p, ErrUnavailable)
	}
	switch rank := t.rankOf(p, s.name); {
	case rank == 0:
		return nil
	case rank > 0 && h.flags&(flagFailover|flagRedirected) != 0:
		return nil
	case h.flags&flagRedirected == 0:
		return &redirectError{partition: p, addr: t.members[top[0]].Addr}
	}
	return fmt.Errorf("partition %d on %s: %w", p, s.name, ErrNotOwner)
}

// local returns the copy of id (tombstones included) a request served
// here starts from. The primary of a partition it holds (holdings.go) has
// every write, so its copy, or its miss, is final, unless no other member
// has answered it for a while (isolated, pause.go): the others may have
// declared it dead and written without it. Any other node serving
// the partition has no such guarantee: a backup serving on failover may
// have missed a write whose copy went to the stand-in as a hint (the
// primary could not reach it), an owner still pulling lacks what it has
// not pulled, and a node beyond the owners holds at most a stale copy. It
// takes the newest of its copy and the other sources' (at most N+1
// calls, and only on failover or while a partition moves). A miss is
// final only when the sources that could hold the session answered; when
// no copy was found and they did not (a node cut off from the others, a
// failover past replicas that timed out), the session may well exist, and local
// returns ErrUnavailable instead: a request that fails can be retried, a
// session wrongly reported gone is lost to its user. A copy found while
// a source that was asked did not answer is served (available, possibly
// stale: a backup cut off from the others still answers), unless
// the quorum guard puts consistency first (the default, unless
// Config.AvailableFirst): then it is ErrUnavailable
// too, as a stale read written back elsewhere loses the writes in
// between. Replicas the sender found silent (skipped, see recover) do not
// count there: every write they acknowledged is on this node too, so a
// crash costs no failed reads.
func (s *Store) local(ctx context.Context, p int, id string) (session.Record, bool, error) {
	rec, ok := s.engine.Get(id)
	t := s.Table()
	if s.authority(t, p) {
		return rec, ok, nil
	}
	got, found, complete, asked := s.recover(ctx, t, p, id)
	if found && (!ok || wins(&got, &rec)) {
		rec, ok = got, true
		if err := s.inflow(ctx, "", p); err != nil {
			return rec, false, err
		}
		s.merge(&got) // counts a conflict if this node's copy held a lost write
	}
	switch {
	case !ok && !complete:
		return rec, false, fmt.Errorf("partition %d on %s: no copy here and the replicas did not all answer: %w", p, s.name, ErrUnavailable)
	case !asked && !s.cfg.AvailableFirst:
		return rec, false, fmt.Errorf("partition %d on %s: the replicas did not all answer, and this copy may be stale: %w", p, s.name, ErrUnavailable)
	}
	return rec, ok, nil
}

// authority reports whether this node's copies of partition p are final
// (see local): it is p's primary, holds p, and is not isolated.
func (s *Store) authority(t *Table, p int) bool {
	return t.IsPrimary(p, s.name) && s.holdings.holds(p) && !s.isolated()
}

// loadCopy returns the live session id a load serves, in binary form
// without the ID: straight from the engine when this node is p's
// authority, else what local finds.
func (s *Store) loadCopy(ctx context.Context, p int, id string) ([]byte, bool, error) {
	if s.authority(s.Table(), p) {
		data, ok := s.engine.LoadBinary(id)
		if !ok || isTombstoneBinary(data) {
			return nil, false, nil
		}
		return data, true, nil
	}
	rec, found, err := s.local(ctx, p, id)
	if err != nil || !found || isTombstone(&rec) {
		return nil, false, err
	}
	return anonymous(&rec), true, nil
}

// recover asks the other sources of p (sources, table.go: the owners,
// the stand-in, draining members) for id, in parallel, and returns the
// newest copy. On a failover past replicas that did not answer
// (flagSilent) it skips the candidates ranked before this node: asking
// them again would only wait for them again. Replicas that declined
// (draining, or routing differently) are asked: they hold their copies.
// complete reports whether a miss can be trusted: every source answered
// (one skipped did not: a replica that timed out, busy with a pause check
// of its own, may well hold the session), and this node is an owner of p
// or an owner was asked. asked reports whether every source asked
// answered.
func (s *Store) recover(ctx context.Context, t *Table, p int, id string) (rec session.Record, found, complete, asked bool) {
	srcs := sources(t, p, s.name)
	skipped := false
	if earlierSilent(ctx) {
		n := len(srcs)
		srcs = slices.DeleteFunc(srcs, func(m Member) bool { return rankedBefore(t, p, m.Name, s.name) })
		skipped = len(srcs) < n
	}
	copies := make([]*session.Record, len(srcs))
	answered := make([]bool, len(srcs))
	var wg sync.WaitGroup
	for i, m := range srcs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := s.call(ctx, m.Addr, opFetch, (&fetchReq{id: id}).marshal())
			if err != nil {
				return
			}
			data, ok, err := parseFound(resp)
			var rec session.Record
			if err == nil && ok {
				rec, err = decodeFound(id, data)
			}
			answered[i] = err == nil
			if answered[i] && ok {
				copies[i] = &rec
			}
		}()
	}
	wg.Wait()
	owner, asked := t.IsOwner(p, s.name), true
	var best *session.Record
	for i, c := range copies {
		asked = asked && answered[i]
		owner = owner || t.IsOwner(p, srcs[i].Name)
		if c != nil && (best == nil || wins(c, best)) {
			best = c
		}
	}
	complete = asked && !skipped && owner
	if best == nil {
		return session.Record{}, false, complete, asked
	}
	return *best, true, complete, asked
}

// silentKey marks the ctx of a request served on failover past replicas
// that did not answer (flagSilent).
type silentKey struct{}

func earlierSilent(ctx context.Context) bool {
	v, _ := ctx.Value(silentKey{}).(bool)
	return v
}

// keeper returns the member that asked to keep the copy of a save it
// sent (flagKeep): the sender, when it came over the network.
func keeper(req routed) string {
	if req.flags&flagKeep == 0 {
		return ""
	}
	return req.from
}

// save applies a patch: create, renew or a plain patch. A plain patch
// sent by keeper, an owner of p that keeps its copy itself (flagKeep), is
// not replicated to it: kept is then the record written, which the
// keeper stores before it acknowledges (saveRemote); nil when keeper got
// its copy as a put, as every other owner does (it is not an owner in
// this node's table).
func (s *Store) save(ctx context.Context, p int, token string, patch session.Patch, keeper string) (kept []byte, err error) {
	switch {
	case token == "":
		return nil, s.create(ctx, p, patch)
	case patch.NewID != "" && patch.NewID != token:
		return nil, s.renew(ctx, p, token, patch)
	}
	if err := s.renewing.wait(ctx, token); err != nil {
		return nil, err
	}
	if !s.authority(s.Table(), p) { // else this node's copy, or its miss, is final
		if _, _, err := s.local(ctx, p, token); err != nil {
			return nil, err
		}
	}
	data, err := s.engine.ApplyPatch(token, patch, func(stored *session.Record) error {
		if isTombstone(stored) {
			return session.ErrNotFound
		}
		return session.CheckDeadline(ctx) // checked under the session's lock: nothing lands later
	})
	if err != nil {
		return nil, fmt.Errorf("patch partition %d: %w", p, err)
	}
	left, err := s.replicateBut(ctx, p, token, data, keeper)
	if err != nil || !left {
		return nil, err
	}
	return data, nil
}

// create stores a new session. The same create arriving again (a sender
// that timed out at one replica fails over to the next, which already has
// the copy) finds its own record, version 1 created at the patch's time,
// and only replicates it again: IDs are random, so nothing else matches.
func (s *Store) create(ctx context.Context, p int, patch session.Patch) error {
	if err := s.makeRoom(ctx); err != nil {
		return fmt.Errorf("create in partition %d: %w", p, err)
	}
	rec, err := s.engine.Update(patch.NewID, func(rec *session.Record, found bool) (bool, error) {
		switch {
		case found && rec.Version == 1 && rec.Created.Equal(patch.Now):
			return false, nil
		case found:
			return false, engine.ErrIDInUse
		}
		if err := session.CheckDeadline(ctx); err != nil {
			return false, err
		}
		patch.Apply(rec)
		return true, nil
	})
	if err != nil {
		return fmt.Errorf("create in partition %d: %w", p, err)
	}
	return s.replicate(ctx, p, rec.ID, anonymous(&rec))
}

// remove buries id under a tombstone and replicates it.
func (s *Store) remove(ctx context.Context, p int, id string) error {
	if err := s.renewing.wait(ctx, id); err != nil {
		return err
	}
	if _, _, err := s.local(ctx, p, id); err != nil {
		return err
	}
	wrote := false
	rec, err := s.engine.Update(id, func(rec *session.Record, found bool) (bool, error) {
		if !found || isTombstone(rec) {
			return false, nil
		}
		if err := session.CheckDeadline(ctx); err != nil {
			return false, err
		}
		*rec, wrote = tombstone(*rec, s.cfg.Now()), true
		return true, nil
	})
	if err != nil || !wrote {
		return err
	}
	return s.replicate(ctx, p, rec.ID, anonymous(&rec))
}

// install stores a whole record (a renewed session under its new ID) at
// its primary and replicates it.
func (s *Store) install(ctx context.Context, p int, id string, rec session.Record) error {
	if rec.ID != id || !session.ValidID(id) {
		return fmt.Errorf("%w: install %.50q holds record %.50q", ErrBadMessage, id, rec.ID)
	}
	if err := session.CheckDeadline(ctx); err != nil {
		return fmt.Errorf("install in partition %d: %w", p, err)
	}
	data := anonymous(&rec)
	if _, err := s.mergeBinary(id, data); err != nil {
		return fmt.Errorf("install in partition %d: %w", p, err)
	}
	return s.replicate(ctx, p, id, data)
}
