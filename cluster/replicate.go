package cluster

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/sessionmesh/sessionmesh/session"
)

// replicate sends data, session id in binary form without the ID, to the
// other owners of p in parallel and returns
// once N copies (this node's included) hold it. An owner that does not
// answer is replaced by a stand-in, the next node in HRW order, which
// keeps a hinted copy and gives it back when the owner is back (hints.go). With fewer
// than N eligible members, every member must hold it. Nodes pulling p
// from this one (receivers) get a copy too; one that fails becomes a
// hinted copy kept here.
func (s *Store) replicate(ctx context.Context, p int, id string, data []byte) error {
	_, err := s.replicateBut(ctx, p, id, data, "")
	return err
}

// replicateBut is replicate, but an owner of p named keeper (the sender
// of a save that keeps its copy itself, flagKeep) gets no put and counts
// as a copy; left reports whether keeper was such an owner, and so must
// store data before the write is acknowledged. A keeper that is not an
// owner in this node's table gets nothing from here either: it holds no
// copy that counts, and its save is replicated to the owners in full.
func (s *Store) replicateBut(ctx context.Context, p int, id string, data []byte, keeper string) (left bool, err error) {
	s.wrote(p)
	t := s.Table()
	need := min(s.cfg.Replicas, t.Eligible())
	owners := splitSelf(t.Owners(p), s.name)
	if keeper != "" && keeper != s.name {
		n := len(owners)
		owners = slices.DeleteFunc(owners, func(m Member) bool { return m.Name == keeper })
		left = len(owners) < n
	}
	if len(owners) > 0 {
		defer s.counters.replication.since(time.Now())
	}
	// This node's copy counts when it is an owner; serving on failover
	// from beyond the top N, it holds an unhinted extra copy instead.
	copies := need - len(owners)
	failed, full := s.putAll(ctx, owners, s.receivers.of(p, t, s.name, time.Now()), id, data)
	copies += len(owners) - len(failed)
	if len(failed) == 0 {
		return left, s.leasesKept(ctx, t, p, keeper, left, failed)
	}
	standIns := splitSelf(t.Order(p)[need:], s.name)
	for _, owner := range failed {
		if copies >= need || len(standIns) == 0 {
			break
		}
		for len(standIns) > 0 {
			standIn := standIns[0]
			standIns = standIns[1:]
			err := s.put(ctx, standIn, owner.Name, id, data)
			if err == nil {
				copies++
				break
			}
			full = full || errors.Is(err, session.ErrFull)
		}
	}
	switch {
	case copies >= need:
		return left, s.leasesKept(ctx, t, p, keeper, left, failed)
	case full: // a new session that replicas at their bounds refused: refused, not lost (bounds.go)
		return false, fmt.Errorf("replicate partition %d: %d of %d copies: %w", p, copies, need, session.ErrFull)
	}
	return false, fmt.Errorf("replicate partition %d: %d of %d copies: %w", p, copies, need, ErrUnavailable)
}

// leasesKept keeps the read leases' invariant (leases.go) for a write to
// p that every owner but failed stored (and keeper, when left): a
// lessee without the copy is revoked first, and a node writing on
// failover waits out whatever lease the primary may have given a backup
// that failed.
func (s *Store) leasesKept(ctx context.Context, t *Table, p int, keeper string, left bool, failed []Member) error {
	if s.cfg.ReadLease <= 0 {
		return nil
	}
	stored := func(name string) bool {
		return name == s.name || left && name == keeper ||
			t.IsOwner(p, name) && !slices.ContainsFunc(failed, func(m Member) bool { return m.Name == name })
	}
	if err := s.settle(ctx, stored, true, p); err != nil {
		return err
	}
	if t.IsPrimary(p, s.name) || !slices.ContainsFunc(failed, func(m Member) bool { return !t.IsPrimary(p, m.Name) }) {
		return nil
	}
	wait := time.NewTimer(s.cfg.leaseSpan())
	defer wait.Stop()
	select {
	case <-wait.C:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("partition %d: written on failover without a backup; waiting out its read lease: %w", p, ctx.Err())
	}
}

// putAll puts rec on every owner and receiver in parallel and returns
// the owners that failed, and whether one refused because it is at its
// bounds; a receiver that failed gets a hint.
func (s *Store) putAll(ctx context.Context, owners, recv []Member, id string, data []byte) (failed []Member, full bool) {
	ms := append(owners[:len(owners):len(owners)], recv...)
	errs := make([]error, len(ms))
	if len(ms) == 1 { // N=2 and no joiner: nothing to wait for in parallel
		errs[0] = s.put(ctx, ms[0], "", id, data)
	} else {
		var wg sync.WaitGroup
		for i, m := range ms {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = s.put(ctx, m, "", id, data)
			}()
		}
		wg.Wait()
	}
	for i, err := range errs {
		if err == nil {
			continue
		}
		s.log.Warn("cluster: replica did not take a copy", "replica", ms[i].Name, "receiver", i >= len(owners), "err", err)
		if i < len(owners) {
			failed = append(failed, ms[i])
			full = full || errors.Is(err, session.ErrFull)
		} else {
			s.hints.add(ms[i].Name, id)
			// It serves the partition soon, maybe as a backup: no read
			// lease may cover it before it has pulled it again.
			s.grantor.missed(ms[i].Name, s.Table().Partition(id))
		}
	}
	return failed, full
}

// put stores a copy of session id (data: its binary form without the ID)
// on m; hint names the owner it stands in for.
func (s *Store) put(ctx context.Context, m Member, hint, id string, data []byte) error {
	body := (&putReq{hint: hint, id: id, data: data}).marshal()
	if _, err := s.call(ctx, m.Addr, opPut, body); err != nil {
		return fmt.Errorf("put partition %d to %s: %w", s.Table().Partition(id), m.Name, err)
	}
	return nil
}
