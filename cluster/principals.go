package cluster

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/sessionmesh/sessionmesh/session"
)

// The sessions of a principal (session.PrincipalIndex). Every node's
// engine indexes the copies it holds by principal (the principal is in
// the record: session.BinaryPrincipal), primaries and backups alike, and
// whichever way the copy arrived: a request, a replica put, a transfer, a
// hand-off, anti-entropy, a snapshot. A listing asks every member of the
// table for the IDs it holds (opUser, in parallel, itself in
// process), takes their union, and reads each session through the normal
// routed Load, so that what it returns is each session's current state at
// its primary: a copy that was deleted or renewed since (a stale backup)
// loads as not found and is left out.
//
// Completeness. Each member also says which partitions it holds
// completely (holdings.go): a node that holds a partition has every
// session of it. The union of the IDs is complete when every partition is
// held by a member that answered. A member that does not answer (killed,
// cut off) therefore costs nothing while the other replicas of its
// partitions answer, which with Replicas >= 2 and one node lost is always
// so; otherwise the listing fails with ErrUnavailable naming the members
// that did not answer and how many partitions no answer covered. A
// partition that no member holds completely (every owner is still
// pulling it, just after a crash of all but one replica) fails the same
// way: the caller may try again once the transfer is done.

// maxPrincipalIDs bounds the IDs one node returns for a principal: a reply
// of 10 000 IDs is some 450 KB, well within a peer frame.
const maxPrincipalIDs = 10000

// PrincipalSessions implements session.PrincipalIndex: it asks every
// member which sessions of principal it holds and loads each from its
// primary (see above). A session that ends meanwhile is left out.
func (s *Store) PrincipalSessions(ctx context.Context, principal string) ([]session.Record, error) {
	s.calls.enter()
	defer s.calls.exit()
	if s.closed.Load() {
		return nil, fmt.Errorf("cluster: sessions of a principal: %w", session.ErrClosed)
	}
	ids, err := s.principalIDs(ctx, principal)
	if err != nil {
		return nil, fmt.Errorf("cluster: sessions of a principal: %w", err)
	}
	recs := make([]session.Record, 0, len(ids))
	for _, id := range ids {
		rec, found, err := s.Load(ctx, id)
		if err != nil {
			return nil, fmt.Errorf("cluster: sessions of a principal: %w", err)
		}
		if found {
			recs = append(recs, rec)
		}
	}
	return recs, nil
}

// principalIDs asks every member of the table for the IDs of principal's
// sessions it holds and returns their union, or an error when the answers
// do not cover every partition (coverIDs).
func (s *Store) principalIDs(ctx context.Context, principal string) ([]string, error) {
	members := s.Table().Members()
	body := (&principalReq{principal: principal}).marshal()
	replies, errs := askAll(members, func(m Member) (principalReply, error) {
		return s.askPrincipal(ctx, m, principal, body)
	})
	return coverIDs(0, s.cfg.Partitions, members, replies, errs)
}

// askPrincipal is one member's answer for principal: this node's in
// process, another's over the peer transport.
func (s *Store) askPrincipal(ctx context.Context, m Member, principal string, body []byte) (principalReply, error) {
	if m.Name == s.name {
		return s.principalHere(principal)
	}
	resp, err := s.call(ctx, m.Addr, opUser, body)
	if err != nil {
		return principalReply{}, err
	}
	return parsePrincipalReply(resp)
}

// principalHere is this node's answer to opUser.
func (s *Store) principalHere(principal string) (principalReply, error) {
	ids := s.engine.Principal(principal)
	if len(ids) > maxPrincipalIDs {
		return principalReply{}, fmt.Errorf("%w: node %s holds %d sessions of one principal, more than a listing returns (%d)",
			ErrUnavailable, s.name, len(ids), maxPrincipalIDs)
	}
	var held []int
	for p := range s.cfg.Partitions {
		if s.holdings.holds(p) {
			held = append(held, p)
		}
	}
	return principalReply{ids: ids, held: held}, nil
}

// coverIDs returns the union of the IDs in the replies of the members
// that answered (errs[i] == nil), sorted, when those members hold every
// one of the partitions lo to hi-1 between them; otherwise an error
// wrapping ErrUnavailable that names the members that did not answer,
// with their errors, and how many partitions no answer covered.
func coverIDs(lo, hi int, members []Member, replies []principalReply, errs []error) ([]string, error) {
	partitions := hi - lo
	covered := make([]bool, partitions)
	var ids []string
	for i, r := range replies {
		if errs[i] != nil {
			continue
		}
		ids = append(ids, r.ids...)
		for _, p := range r.held {
			if p >= lo && p < hi {
				covered[p-lo] = true
			}
		}
	}
	if missing := partitions - countTrue(covered); missing > 0 {
		return nil, notCovered("the sessions of", "listed", missing, partitions, members, errs)
	}
	slices.Sort(ids)
	return slices.Compact(ids), nil
}

// askAll calls ask for every member at once and returns their answers
// and errors in the members' order.
func askAll[T any](members []Member, ask func(Member) (T, error)) ([]T, []error) {
	replies := make([]T, len(members))
	errs := make([]error, len(members))
	var wg sync.WaitGroup
	for i, m := range members {
		wg.Go(func() { replies[i], errs[i] = ask(m) })
	}
	wg.Wait()
	return replies, errs
}

// notCovered is the error of a call over every member whose answers left
// missing of partitions uncovered: it wraps ErrUnavailable and names the
// members that did not answer (errs[i] != nil), with their errors.
func notCovered(what, done string, missing, partitions int, members []Member, errs []error) error {
	var failed []string
	for i, err := range errs {
		if err != nil {
			failed = append(failed, fmt.Sprintf("%s (%v)", members[i].Name, err))
		}
	}
	if len(failed) == 0 {
		failed = []string{"none"}
	}
	return fmt.Errorf("%w: %s %d of %d partitions could not be %s: no member that holds them answered; did not answer: %s",
		ErrUnavailable, what, missing, partitions, done, strings.Join(failed, ", "))
}

func countTrue(v []bool) int {
	n := 0
	for _, b := range v {
		if b {
			n++
		}
	}
	return n
}
