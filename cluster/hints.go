package cluster

import (
	"bytes"
	"context"
	"sync"
)

// hints remembers the copies this node keeps, as a stand-in, for an owner
// that did not answer when they were written (Dynamo's "hinted handoff";
// here the copies are given back, handBack, to keep "hand-off" for what a
// node does with partitions it no longer owns). The copy itself lives in
// the engine like any other, so reads that fail over here find it.
type hints struct {
	mu      sync.Mutex                     // guards byOwner
	byOwner map[string]map[string]struct{} // owner node name -> session IDs
}

func (h *hints) add(owner, id string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	ids := h.byOwner[owner]
	if ids == nil {
		ids = map[string]struct{}{}
		h.byOwner[owner] = ids
	}
	ids[id] = struct{}{}
}

func (h *hints) done(owner, id string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.byOwner[owner], id)
	if len(h.byOwner[owner]) == 0 {
		delete(h.byOwner, owner)
	}
}

func (h *hints) dropOwner(owner string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.byOwner, owner)
}

// snapshot returns a copy, so handing back runs without the lock.
func (h *hints) snapshot() map[string][]string {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make(map[string][]string, len(h.byOwner))
	for owner, ids := range h.byOwner {
		for id := range ids {
			out[owner] = append(out[owner], id)
		}
	}
	return out
}

func (h *hints) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, ids := range h.byOwner {
		n += len(ids)
	}
	return n
}

// handBackHints gives hinted copies back to their owners once the owners
// are members again and answer. An owner that left the cluster for good
// is forgotten: its partitions have new owners, and restoring N copies
// there is the pulls' job (transfer.go), not a hint's. Once given back, a
// copy this node does not own is dropped.
func (s *Store) handBackHints() {
	ctx := s.bg // canceled by Close, which must not wait for a slow owner
	t := s.Table()
	for owner, ids := range s.hints.snapshot() {
		m, ok := t.Member(owner)
		if !ok { // a puller gossip has not shown here yet
			m, ok = s.receivers.lookup(owner)
		}
		if !ok {
			s.hints.dropOwner(owner)
			continue
		}
		s.handBack(ctx, m, ids)
	}
}

// handBackNow tries to give the hinted copy of id to owner before the
// put that brought it is answered, within handBackBudget. The sender
// could not reach the owner, but others may: a peer route or firewall
// rule gone one way, a node that reaches everyone but the owner. The
// owner is then alive and serving, as primary maybe, and must not serve
// the session without the write it missed, nor write over it (equal
// versions: one write lost). An owner that does not answer in time keeps
// the hint for the rounds of handBackHints.
func (s *Store) handBackNow(ctx context.Context, owner, id string) {
	m, ok := s.Table().Member(owner)
	if !ok || s.down.down(owner, s.mono()) {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.CallTimeout/handBackBudget)
	defer cancel()
	s.handBack(ctx, m, []string{id})
}

// handBackBudget is the share of CallTimeout a stand-in gives handBackNow:
// the sender waits for the answer within CallTimeout, and when the owner
// is silent (frozen, cut off), it already waited for it once.
const handBackBudget = 4

// handBack gives the hinted copies ids to owner, in order, until one
// fails, and drops each copy given back that this node does not own in
// the table of the moment (not of the round's start: it may have become
// an owner, and pulled the partition, while the copy was on its way).
// A newer copy of a session may arrive while its older one is on the way
// (a hinted put, while handBackHints and handBackNow run side by side): a
// put stores its copy before it adds its hint, and the hint is cleared
// here before the copy is compared, so a copy that changed meanwhile keeps
// a hint, and only the copy given back is dropped.
func (s *Store) handBack(ctx context.Context, owner Member, ids []string) {
	for _, id := range ids {
		data, ok := s.engine.Peek(id)
		if ok && s.put(ctx, owner, "", id, data) != nil {
			return // still unreachable: try again next round
		}
		s.hints.done(owner.Name, id)
		if !ok {
			continue
		}
		same := func(stored []byte) bool { return bytes.Equal(stored, data) }
		if t := s.Table(); t.IsOwner(t.Partition(id), s.name) || !s.engine.RemoveIf(id, same) {
			if now, found := s.engine.Peek(id); found && !same(now) {
				s.hints.add(owner.Name, id)
			}
		}
	}
}
