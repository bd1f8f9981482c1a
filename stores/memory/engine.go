package memory

import (
	"fmt"

	"github.com/sessionmesh/sessionmesh/session"
)

// The engine methods below serve the cluster package. Unlike Load, Save and
// Delete they keep working after Close (so a node can hand its sessions
// off). They still need well-formed IDs (session.ValidID), which is what the
// index is keyed by: Get of anything else finds nothing, Remove does
// nothing, and Update and Put fail with ErrInvalidID.

// Get returns a copy of the live session id; an expired one is removed and
// not returned.
func (s *Store) Get(id string) (session.Record, bool) {
	k, ok := keyOf(id)
	if !ok {
		return session.Record{}, false
	}
	now := s.now()
	sh := s.shardFor(&k)
	sh.mu.Lock()
	defer sh.unlock()
	loc, ok := s.getLocked(sh, k, now)
	if !ok {
		return session.Record{}, false
	}
	rec, err := decode(id, sh.slab.load(loc))
	return rec, err == nil
}

// Update runs fn under the session's shard lock with a copy of the current
// record (found=false: an expired or missing session, and a zero Record). If
// fn returns write=true the record as fn left it, with its ID set to id, is
// stored and returned; with write=false nothing changes and the stored
// record (zero when not found) is returned. An error from fn aborts and is
// returned as it is; a record over MaxSessionBytes fails with an error
// wrapping session.ErrTooLarge and changes nothing.
func (s *Store) Update(id string, fn func(rec *session.Record, found bool) (write bool, err error)) (session.Record, error) {
	k, ok := keyOf(id)
	if !ok {
		return session.Record{}, fmt.Errorf("memory: update %.50q: %w", id, ErrInvalidID)
	}
	now := s.now()
	sh := s.shardFor(&k)
	sh.mu.Lock()
	rec, wrote, err := s.updateLocked(sh, k, id, now, fn)
	sh.unlock()
	if wrote {
		s.trim(k)
	}
	return rec, err
}

func (s *Store) updateLocked(sh *shard, k key, id string, now int64, fn func(*session.Record, bool) (bool, error)) (session.Record, bool, error) {
	var rec session.Record
	loc, found := s.getLocked(sh, k, now)
	if found {
		var err error
		if rec, err = decode(id, sh.slab.load(loc)); err != nil {
			return session.Record{}, false, err
		}
	}
	write, err := fn(&rec, found)
	switch {
	case err != nil:
		return session.Record{}, false, err
	case !write && !found:
		return session.Record{}, false, nil
	case !write:
		rec, err = decode(id, sh.slab.load(loc)) // fn may have changed its copy
		return rec, false, err
	}
	rec.ID = id // what Get will return
	var scratch [512]byte
	data, err := s.encode(&rec, scratch[:0])
	if err != nil {
		return session.Record{}, false, err
	}
	s.setLocked(sh, k, data, deadlineNanos(&rec))
	return rec, true, nil
}

// Put stores rec under id (as the record of session id, whatever rec.ID
// says) unless the stored live record has a Version >= rec.Version
// (replicas and repair use it, so an old copy never overwrites a newer one).
// An already expired rec is not stored. It reports whether rec was stored;
// the error is session.ErrTooLarge's, as for Update, or ErrInvalidID's.
func (s *Store) Put(id string, rec session.Record) (bool, error) {
	k, ok := keyOf(id)
	if !ok {
		return false, fmt.Errorf("memory: put %.50q: %w", id, ErrInvalidID)
	}
	now := s.now()
	var scratch [512]byte
	data, err := s.encode(&rec, scratch[:0])
	deadline := deadlineNanos(&rec)
	if err != nil || deadline <= now {
		return false, err
	}
	sh := s.shardFor(&k)
	sh.mu.Lock()
	loc, found := s.getLocked(sh, k, now)
	stored := !found || header(sh.slab.load(loc)).Version < rec.Version
	if stored {
		s.setLocked(sh, k, data, deadline)
	}
	sh.unlock()
	if stored {
		s.trim(k)
	}
	return stored, nil
}

// Remove deletes the session id; a missing one is no error.
func (s *Store) Remove(id string) {
	k, ok := keyOf(id)
	if !ok {
		return
	}
	sh := s.shardFor(&k)
	sh.mu.Lock()
	defer sh.unlock()
	if loc, ok := sh.index[k]; ok {
		s.dropLocked(sh, k, loc)
	}
}

// Range calls fn with a copy of every live session until fn returns false.
// Each shard is locked only while its records are copied out, so fn may
// call the Store; sessions changed during the walk may be seen old or new,
// and sessions created during it may be missed.
func (s *Store) Range(fn func(id string, rec session.Record) bool) {
	var batch snapshot
	for i := range s.shards {
		batch.take(s, &s.shards[i], s.now())
		for _, e := range batch.entries {
			id := e.k.String()
			rec, err := decode(id, batch.data[e.start:e.end])
			if err == nil && !fn(id, rec) {
				return
			}
		}
	}
}

// snapshot holds copies of one shard's live records, all in one buffer.
type snapshot struct {
	data    []byte
	entries []struct {
		k          key
		start, end int
	}
}

func (b *snapshot) take(s *Store, sh *shard, now int64) {
	b.data, b.entries = b.data[:0], b.entries[:0]
	sh.mu.Lock()
	defer sh.unlock()
	for k, loc := range sh.index {
		if rec := sh.slab.load(loc); sh.slab.deadline(loc) > now {
			start := len(b.data)
			b.data = append(b.data, rec...)
			b.entries = append(b.entries, struct {
				k          key
				start, end int
			}{k, start, len(b.data)})
		}
	}
}
