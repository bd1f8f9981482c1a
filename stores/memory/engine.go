package memory

import "github.com/sessionmesh/sessionmesh/session"

// The engine methods below work on session IDs the caller trusts (the
// cluster package); unlike Load and Save they do not check the ID's shape and
// keep working after Close.

// Get returns a copy of the live session id; an expired one is removed and
// not returned.
func (s *Store) Get(id string) (session.Record, bool) {
	now := s.now()
	sh := s.shardFor(id)
	sh.mu.Lock()
	e, ok := s.getLocked(sh, id, now)
	sh.mu.Unlock()
	if !ok {
		return session.Record{}, false
	}
	rec, err := decode(id, e)
	return rec, err == nil
}

// Update runs fn under the session's shard lock with a copy of the current
// record (found=false: an expired or missing session, and a zero Record). If
// fn returns write=true the record as fn left it, with its ID set to id, is
// stored and returned; with write=false nothing changes and the stored
// record (zero when not found) is returned. An error from fn aborts and is returned as it is; a
// record over MaxSessionBytes fails with an error wrapping
// session.ErrTooLarge and changes nothing.
func (s *Store) Update(id string, fn func(rec *session.Record, found bool) (write bool, err error)) (session.Record, error) {
	now := s.now()
	sh := s.shardFor(id)
	sh.mu.Lock()
	rec, wrote, err := s.updateLocked(sh, id, now, fn)
	sh.mu.Unlock()
	if wrote {
		s.trim(id)
	}
	return rec, err
}

func (s *Store) updateLocked(sh *shard, id string, now int64, fn func(*session.Record, bool) (bool, error)) (session.Record, bool, error) {
	var rec session.Record
	old, found := s.getLocked(sh, id, now)
	if found {
		var err error
		if rec, err = decode(id, old); err != nil {
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
		rec, err = decode(id, old) // fn may have changed its copy
		return rec, false, err
	}
	rec.ID = id // what Get will return
	e, err := s.encode(id, &rec)
	if err != nil {
		return session.Record{}, false, err
	}
	s.setLocked(sh, id, e)
	return rec, true, nil
}

// Put stores rec under id (as the record of session id, whatever rec.ID
// says) unless the stored live record has a Version >=
// rec.Version (replicas and repair use it, so an old copy never overwrites a
// newer one). An already expired rec is not stored. It reports whether rec
// was stored; the error is session.ErrTooLarge's, as for Update.
func (s *Store) Put(id string, rec session.Record) (bool, error) {
	now := s.now()
	e, err := s.encode(id, &rec)
	if err != nil || e.deadline <= now {
		return false, err
	}
	sh := s.shardFor(id)
	sh.mu.Lock()
	old, found := s.getLocked(sh, id, now)
	stored := !found || old.version < e.version
	if stored {
		s.setLocked(sh, id, e)
	}
	sh.mu.Unlock()
	if stored {
		s.trim(id)
	}
	return stored, nil
}

// Remove deletes the session id; a missing one is no error.
func (s *Store) Remove(id string) {
	sh := s.shardFor(id)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if e, ok := sh.entries[id]; ok {
		s.dropLocked(sh, id, e)
	}
}

// Range calls fn with a copy of every live session until fn returns false.
// Each shard is locked only while its entries are copied out, so fn may call
// the Store; sessions changed during the walk may be seen old or new, and
// sessions created during it may be missed.
func (s *Store) Range(fn func(id string, rec session.Record) bool) {
	var batch []keyed
	for i := range s.shards {
		batch = s.snapshot(&s.shards[i], batch[:0], s.now())
		for _, k := range batch {
			rec, err := decode(k.id, k.e)
			if err == nil && !fn(k.id, rec) {
				return
			}
		}
	}
}

type keyed struct {
	id string
	e  entry
}

func (s *Store) snapshot(sh *shard, batch []keyed, now int64) []keyed {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	for id, e := range sh.entries {
		if e.deadline > now {
			batch = append(batch, keyed{id, e})
		}
	}
	return batch
}
