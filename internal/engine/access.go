package engine

import (
	"bytes"
	"fmt"
	"math/rand/v2"

	"github.com/sessionmesh/sessionmesh/session"
)

// The methods below read and write whole records; Create, Patch and Renew
// (map.go) apply patches to the stored bytes.

// Get returns a copy of the live session id; an expired one is removed and
// not returned.
func (s *Map) Get(id string) (session.Record, bool) {
	r, ok := s.refOf(id)
	if !ok {
		return session.Record{}, false
	}
	now := s.now()
	sh := s.shardOf(&r)
	sh.mu.Lock()
	defer sh.unlock()
	_, loc, ok := s.getLocked(sh, &r, now)
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
func (s *Map) Update(id string, fn func(rec *session.Record, found bool) (write bool, err error)) (session.Record, error) {
	r, ok := s.refOf(id)
	if !ok {
		return session.Record{}, fmt.Errorf("update %.50q: %w", id, ErrInvalidID)
	}
	now := s.now()
	sh := s.shardOf(&r)
	sh.mu.Lock()
	rec, wrote, err := s.updateLocked(sh, &r, id, now, fn)
	sh.unlock()
	if wrote {
		s.trim(&r.k)
	}
	return rec, err
}

func (s *Map) updateLocked(sh *shard, r *ref, id string, now int64, fn func(*session.Record, bool) (bool, error)) (session.Record, bool, error) {
	var rec session.Record
	i, loc, found := s.getLocked(sh, r, now)
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
	s.setLocked(sh, r, i, data, deadlineNanos(&rec))
	return rec, true, nil
}

// PutIf stores data, a record's binary form without its ID
// (session.Record.AppendBinary of a record whose ID is empty), as the
// record of session id when no live record is stored or replace, given
// the stored record's binary form, says data should replace it; it reports
// whether data was stored. The decision and the write happen under the
// session's lock, so a caller's rule ("the newer copy wins") holds against
// concurrent writers. An already expired record is not stored. data must
// not change while PutIf runs; the Map keeps a copy. The error is
// session.ErrTooLarge's (see MaxSessionBytes), ErrInvalidID's, or the
// decoding error of data that is not a record.
func (s *Map) PutIf(id string, data []byte, replace func(stored []byte) bool) (bool, error) {
	r, ok := s.refOf(id)
	if !ok {
		return false, fmt.Errorf("put %.50q: %w", id, ErrInvalidID)
	}
	var head session.Record
	if err := head.UnmarshalHeader(data); err != nil {
		return false, fmt.Errorf("put %.50q: %w", id, err)
	}
	if _, err := s.checkSize(data); err != nil {
		return false, err
	}
	now, deadline := s.now(), deadlineNanos(&head)
	if deadline <= now {
		return false, nil
	}
	sh := s.shardOf(&r)
	sh.mu.Lock()
	i, loc, found := s.getLocked(sh, &r, now)
	stored := !found || replace(sh.slab.load(loc))
	if stored {
		s.setLocked(sh, &r, i, data, deadline)
	}
	sh.unlock()
	if stored {
		s.trim(&r.k)
	}
	return stored, nil
}

// ApplyPatch applies p (whose NewID is ignored) to the live session id
// under its lock, as Patch does, after check has approved the stored
// record's header (fields but Values; an error from check aborts and is
// returned as it is). It returns a copy of the patched record's binary
// form, without the ID: what a cluster primary sends its replicas. A
// missing session fails with session.ErrNotFound.
func (s *Map) ApplyPatch(id string, p session.Patch, check func(stored *session.Record) error) ([]byte, error) {
	r, ok := s.refOf(id)
	if !ok {
		return nil, session.ErrNotFound
	}
	sh := s.shardOf(&r)
	sh.mu.Lock()
	data, err := s.applyPatchLocked(sh, &r, p, check)
	sh.unlock()
	if err == nil {
		s.trim(&r.k)
	}
	return data, err
}

func (s *Map) applyPatchLocked(sh *shard, r *ref, p session.Patch, check func(*session.Record) error) ([]byte, error) {
	i, loc, found := s.getLocked(sh, r, s.now())
	if !found {
		return nil, session.ErrNotFound
	}
	old := sh.slab.load(loc)
	var head session.Record
	if err := head.UnmarshalHeader(old); err != nil {
		return nil, fmt.Errorf("stored session: %w", err)
	}
	if err := check(&head); err != nil {
		return nil, err
	}
	var scratch [512]byte
	data, deadline, err := s.applyBinary(p, scratch[:0], old)
	if err != nil {
		return nil, err
	}
	sh.slab.markUsed(s.setPatchedLocked(sh, r, i, data, deadline, &p)) // a patch comes from a request of the session
	return bytes.Clone(data), nil
}

// Remove deletes the session id; a missing one is no error.
func (s *Map) Remove(id string) { s.RemoveIf(id, nil) }

// RemoveIf deletes the session id if remove, asked under the session's
// lock with its stored binary form (not to be kept), says so; nil removes
// it whatever it holds. It reports whether a record was removed.
func (s *Map) RemoveIf(id string, remove func(stored []byte) bool) bool {
	r, ok := s.refOf(id)
	if !ok {
		return false
	}
	sh := s.shardOf(&r)
	sh.mu.Lock()
	defer sh.unlock()
	i := sh.find(&r)
	if i < 0 || remove != nil && !remove(sh.slab.load(sh.index.loc(i))) {
		return false
	}
	s.dropLocked(sh, i)
	return true
}

// Range calls fn with a copy of every live session until fn returns false.
// Each shard is locked only while its records are copied out, so fn may
// call the Map; sessions changed during the walk may be seen old or new,
// and sessions created during it may be missed.
func (s *Map) Range(fn func(id string, rec session.Record) bool) {
	s.RangeBinary(func(id, data []byte) bool {
		rec, err := decode(string(id), data)
		return err != nil || fn(rec.ID, rec)
	}, nil)
}

// RangeBinary is Range for walks over many sessions that need only part
// of each: fn gets the session's ID as text and its stored binary form
// (without the ID), both valid only until fn returns, so the walk
// allocates nothing per session (decoding a header,
// session.Record.UnmarshalHeader, costs a fraction of decoding values).
// Unless between is nil, it is called after every shard but the last and
// may pause there: a background walk of a large store spreads itself over
// time that way instead of taking a processor in one burst.
func (s *Map) RangeBinary(fn func(id, data []byte) bool, between func()) {
	var batch snapshot
	var id [session.IDLen]byte
	for i := range s.shards {
		if i > 0 && between != nil {
			between()
		}
		batch.take(s, &s.shards[i], s.now())
		for _, e := range batch.entries {
			if !fn(e.k.text(&id), batch.data[e.start:e.end:e.end]) {
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

func (b *snapshot) take(s *Map, sh *shard, now int64) {
	b.data, b.entries = b.data[:0], b.entries[:0]
	sh.mu.Lock()
	defer sh.unlock()
	sh.index.each(func(_ int, loc uint32) bool {
		if rec := sh.slab.load(loc); sh.slab.deadline(loc) > now {
			start := len(b.data)
			b.data = append(b.data, rec...)
			b.entries = append(b.entries, struct {
				k          key
				start, end int
			}{*sh.slab.key(loc), start, len(b.data)})
		}
		return true
	})
}

// Spare returns a session that may go to make room (see the package doc:
// expired, or never used again after the request that created it) among
// small samples of every shard, whose ID eligible accepts; ok is false
// when the samples hold none. It changes nothing: the caller decides
// (the cluster's primary evicts a session of its own partitions by
// burying it, so that its replicas drop it too).
func (s *Map) Spare(eligible func(id string) bool) (id string, ok bool) {
	now := s.now()
	start := int(s.next.Add(1))
	for i := range s.shards {
		sh := &s.shards[(start+i)&(len(s.shards)-1)]
		sh.mu.Lock()
		seen := 0
		sh.index.sample(rand.Uint32(), func(_ int, loc uint32) bool {
			if spare(sh, loc, sh.slab.deadline(loc), now) {
				if cand := sh.slab.key(loc).String(); eligible(cand) {
					id, ok = cand, true
					return false
				}
			}
			seen++
			return seen < evictionSample
		})
		sh.unlock()
		if ok {
			return id, true
		}
	}
	return "", false
}

// Over reports whether the Map holds more than maxSessions sessions or
// maxBytes bytes (counted as for MaxBytes); a bound of 0 or less is none.
// The cluster bounds its nodes with it, the Map's own bounds off.
func (s *Map) Over(maxSessions int, maxBytes int64) bool {
	return maxSessions > 0 && s.sessions.Load() >= int64(maxSessions) ||
		maxBytes > 0 && s.bytes.Load() >= maxBytes
}

// Has reports whether a live session id is stored, without copying it.
func (s *Map) Has(id string) bool {
	r, ok := s.refOf(id)
	if !ok {
		return false
	}
	sh := s.shardOf(&r)
	sh.mu.Lock()
	defer sh.unlock()
	_, _, ok = s.getLocked(sh, &r, s.now())
	return ok
}

// Keys calls fn with the ID of every live session until fn returns false,
// reading no record: each shard's keys are copied out under its lock and
// fn runs unlocked, so it may call the Map.
func (s *Map) Keys(fn func(id string) bool) {
	var keys []key
	for i := range s.shards {
		sh := &s.shards[i]
		now := s.now()
		keys = keys[:0]
		sh.mu.Lock()
		sh.index.each(func(_ int, loc uint32) bool {
			if sh.slab.deadline(loc) > now {
				keys = append(keys, *sh.slab.key(loc))
			}
			return true
		})
		sh.unlock()
		for j := range keys {
			if !fn(keys[j].String()) {
				return
			}
		}
	}
}
