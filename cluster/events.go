package cluster

import "github.com/sessionmesh/sessionmesh/session"

// Events (session.EventSource). Every owner of a partition holds a copy
// of its sessions and expires it on its own, so each would report the
// same expiry; only the partition's authority (its primary, holding it,
// not isolated) reports it, and replicas stay silent. An eviction is the
// primary's decision anyway (bounds.go), and it reports it. A tombstone
// that expires is no event: its session was destroyed, renewed or
// evicted, and that was reported when it happened. During a rebalance an
// expiry can go unreported (the old primary no longer has the authority,
// the new one's copy had not arrived) or, rarely, be reported by both.

// OnRemoval implements session.EventSource: fn is called once for each
// session of a partition this node is the primary of that expired here
// (found by a read or the sweeper) or that this node evicted at its
// bounds, after the removal, in the goroutine that removed it. A
// session.Manager with Config.OnEvent registers here; a later call
// replaces fn, nil stops the calls.
func (s *Store) OnRemoval(fn func(session.Removal)) {
	if fn == nil {
		s.onRemoval.Store(nil)
		s.engine.OnRemoval(nil)
		return
	}
	s.onRemoval.Store(&fn)
	s.engine.OnRemoval(s.expired)
}

// expired is the engine's OnRemoval: it passes on the expiries of live
// sessions of partitions this node is the authority of.
func (s *Store) expired(r session.Removal) {
	if r.Kind != session.EventExpired || isTombstoneBinary(r.Data) {
		return // the engine has no bounds here: evictions are bounds.go's
	}
	if t := s.Table(); s.authority(t, t.Partition(r.ID)) {
		s.report(r)
	}
}

// report calls the OnRemoval hook, if any.
func (s *Store) report(r session.Removal) {
	if fn := s.onRemoval.Load(); fn != nil {
		(*fn)(r)
	}
}
