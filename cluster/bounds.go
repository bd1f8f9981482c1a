package cluster

import (
	"context"
	"fmt"

	"github.com/sessionmesh/sessionmesh/session"
)

// Bounds (Config.MaxSessions, MaxBytes). Which session may go is the
// primary's decision, made when it creates a session: it evicts spare
// sessions of the partitions it is the authority of (expired, or never
// used again after the request that created them: internal/engine's rule)
// by burying them, and its replicas follow when the tombstone reaches
// them. A replica never evicts on its own (a copy it dropped would be a
// write lost); it refuses new copies only well beyond the bounds (hard),
// so that primaries that fell behind cannot make it run out of memory.

// evictionsPerCreate bounds the evictions one create may make: at a bound
// one usually suffices, and a create must not stall on a store of
// sessions in use.
const evictionsPerCreate = 4

// makeRoom keeps this node within its bounds before it creates a session:
// it evicts spare sessions of partitions it is the authority of, and when
// none may go it refuses the new session with session.ErrFull.
func (s *Store) makeRoom(ctx context.Context) error {
	for range evictionsPerCreate {
		if !s.engine.Over(s.cfg.MaxSessions, s.cfg.MaxBytes) {
			return nil
		}
		t := s.Table()
		id, ok := s.engine.Spare(func(id string) bool { return s.authority(t, t.Partition(id)) })
		if !ok {
			break
		}
		if err := s.evict(ctx, t.Partition(id), id); err != nil {
			return fmt.Errorf("evict a spare session to make room: %w", err)
		}
	}
	if !s.engine.Over(s.cfg.MaxSessions, s.cfg.MaxBytes) {
		return nil
	}
	s.refused.Add(1)
	st := s.engine.Stats()
	return fmt.Errorf("%w: node %s holds %d sessions and %d bytes (MaxSessions %d, MaxBytes %d), none of its own it may evict",
		session.ErrFull, s.name, st.Sessions, st.Bytes, s.cfg.MaxSessions, s.cfg.MaxBytes)
}

// evict buries the spare session id of partition p under a tombstone
// that expires soon (evictedTombstone) and replicates it like a delete.
func (s *Store) evict(ctx context.Context, p int, id string) error {
	wrote := false
	now := s.cfg.Now()
	var gone []byte // the evicted record, for OnRemoval
	rec, err := s.engine.Update(id, func(rec *session.Record, found bool) (bool, error) {
		if !found || isTombstone(rec) {
			return false, nil // expired meanwhile: the engine dropped it
		}
		if s.onRemoval.Load() != nil {
			gone = anonymous(rec)
		}
		*rec, wrote = evictedTombstone(*rec, now, 2*s.cfg.AntiEntropyInterval), true
		return true, nil
	})
	if err != nil || !wrote {
		return err
	}
	s.evictions.Add(1)
	if gone != nil {
		s.report(session.Removal{Kind: session.EventEvicted, ID: id, Data: gone, At: now})
	}
	return s.replicate(ctx, p, id, anonymous(&rec))
}

// overHard reports whether this node holds a quarter more than its
// bounds: beyond it, it refuses new copies (mergeBinary).
func (s *Store) overHard() bool {
	return s.engine.Over(s.cfg.MaxSessions*5/4, s.cfg.MaxBytes*5/4)
}

// boundsReport is what reportBounds logged last.
type boundsReport struct{ evictions, refused uint64 }

// reportBounds logs, once a round, what the bounds cost since the last
// round: the spare sessions evicted and the new ones refused, with what
// the node holds. A node at its bounds under a flood evicts on every
// create; one line a round says so without a line a session. Only the
// anti-entropy loop calls it.
func (s *Store) reportBounds() {
	now := boundsReport{evictions: s.evictions.Load(), refused: s.refused.Load()}
	last := s.reported
	if now == last {
		return
	}
	s.reported = now
	st := s.engine.Stats()
	s.log.Info("cluster: at its bounds since the last round",
		"evicted", now.evictions-last.evictions, "refused", now.refused-last.refused,
		"sessions", st.Sessions, "bytes", st.Bytes, "maxSessions", s.cfg.MaxSessions, "maxBytes", s.cfg.MaxBytes)
}
