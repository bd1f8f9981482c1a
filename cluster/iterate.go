package cluster

import (
	"context"
	"fmt"

	"github.com/sessionmesh/sessionmesh/session"
)

// Walking every session (session.Iterator). A walk goes through the
// partitions in iterateBatches slices; for each slice it asks every
// member (opKeys, in parallel, itself in process) for the IDs of the live
// sessions it holds in those partitions and which of them it holds
// completely, takes the union when the members that answered hold the
// whole slice (coverIDs, as a listing of a principal's sessions does),
// and reads each session through the routed Load, so that fn sees each
// session as its primary has it, once. A member's answer costs it a walk
// over its keys (no record read); a slice's reply stays far below a peer
// frame even with millions of sessions.

// iterateBatches is how many slices of the partitions a walk asks for.
const iterateBatches = 64

// Iterate implements session.Iterator (see above). It fails with
// ErrUnavailable naming the members that did not answer when the
// answers for a slice do not cover it; fn has then seen the sessions of
// the slices before.
func (s *Store) Iterate(ctx context.Context, fn func(session.Record) bool) error {
	s.calls.enter()
	defer s.calls.exit()
	if s.closed.Load() {
		return fmt.Errorf("cluster: iterate: %w", session.ErrClosed)
	}
	step := max(1, s.cfg.Partitions/iterateBatches)
	for lo := 0; lo < s.cfg.Partitions; lo += step {
		ids, err := s.keysOf(ctx, lo, min(lo+step, s.cfg.Partitions))
		if err != nil {
			return fmt.Errorf("cluster: iterate: %w", err)
		}
		for _, id := range ids {
			rec, found, err := s.Load(ctx, id)
			if err != nil {
				return fmt.Errorf("cluster: iterate: %w", err)
			}
			if found && !fn(rec) {
				return nil
			}
		}
	}
	return nil
}

// keysOf asks every member for the IDs it holds in partitions lo to hi-1
// and returns their union, or an error when the answers do not cover
// those partitions.
func (s *Store) keysOf(ctx context.Context, lo, hi int) ([]string, error) {
	members := s.Table().Members()
	body := (&keysReq{lo: lo, hi: hi}).marshal()
	replies, errs := askAll(members, func(m Member) (principalReply, error) {
		if m.Name == s.name {
			return s.keysHere(lo, hi), nil
		}
		resp, err := s.call(ctx, m.Addr, opKeys, body)
		if err != nil {
			return principalReply{}, err
		}
		return parsePrincipalReply(resp)
	})
	return coverIDs(lo, hi, members, replies, errs)
}

// keysHere is this node's answer to opKeys: the IDs of its live copies
// in partitions lo to hi-1 and those of them it holds completely.
func (s *Store) keysHere(lo, hi int) principalReply {
	var r principalReply
	for p := lo; p < hi; p++ {
		if s.holdings.holds(p) {
			r.held = append(r.held, p)
		}
	}
	t := s.Table()
	s.engine.Keys(func(id string) bool {
		if p := t.Partition(id); p >= lo && p < hi {
			r.ids = append(r.ids, id)
		}
		return true
	})
	return r
}

// handleKeys answers opKeys.
func (s *Store) handleKeys(body []byte) ([]byte, error) {
	req, err := parseKeysReq(body, s.cfg.Partitions)
	if err != nil {
		return nil, err
	}
	r := s.keysHere(req.lo, req.hi)
	return r.marshal(), nil
}

// keysReq is the request of opKeys: partitions lo to hi-1.
type keysReq struct{ lo, hi int }

func (r *keysReq) marshal() []byte {
	return appendInts(nil, []int{r.lo, r.hi})
}

func parseKeysReq(b []byte, partitions int) (keysReq, error) {
	d := reader{b: b}
	v := d.ints()
	if d.err == nil && (len(v) != 2 || v[0] >= v[1] || v[1] > partitions) {
		d.fail(fmt.Sprintf("partitions %v are not a range within %d", v, partitions))
	}
	if err := d.done("keys request"); err != nil {
		return keysReq{}, err
	}
	return keysReq{lo: v[0], hi: v[1]}, nil
}
