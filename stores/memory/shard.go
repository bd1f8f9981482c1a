package memory

import (
	"bytes"
	"fmt"
	"math"
	"sync"
	"time"
	"unsafe"

	"github.com/sessionmesh/sessionmesh/session"
)

// evictionSample is how many sessions eviction compares: enough to find one
// near its deadline, few enough to cost next to nothing (Redis samples 5).
const evictionSample = 5

// entryOverhead approximates what one session costs besides its key and
// encoded bytes: the map slot (string header and entry) and allocation
// rounding. MaxBytes counts it so that many tiny sessions are bounded too.
const entryOverhead = 64

// shard is one independently locked part of the map.
type shard struct {
	mu      sync.Mutex // guards entries
	entries map[string]entry
}

// entry is one session: its bytes and what the store must know about it
// without decoding. data is never changed after it is stored, so it may be
// read after the shard's lock is released, and the map key can share it.
type entry struct {
	data     []byte // the session ID, then session.Record.AppendBinary
	deadline int64  // Record.Deadline() in Unix nanoseconds
	version  uint64 // Record.Version
}

// key returns the ID at the start of data as a string that shares data's
// memory. As the map key it costs no allocation of its own (a third of a
// small session's heap), and it never pins a caller's string: a token cut
// from a request's Cookie header would otherwise keep the whole header alive
// for as long as the session lives. Sound because data is never written
// after encode.
func (e entry) key(idLen int) string {
	return unsafe.String(unsafe.SliceData(e.data), idLen)
}

func (e entry) size() int64 { return int64(len(e.data) + entryOverhead) }

// encode turns rec into the entry for id, refusing a session over
// MaxSessionBytes. The record is encoded without its ID, which the entry
// already starts with (decode puts it back: a stored record's ID is always
// the ID it is stored under). The bytes are copied to an exactly sized
// slice: a million sessions should not each carry the slack of a growing
// buffer.
func (s *Store) encode(id string, rec *session.Record) (entry, error) {
	var scratch [512]byte
	anonymous := *rec
	anonymous.ID = ""
	data := anonymous.AppendBinary(append(scratch[:0], id...))
	if n := len(data) - len(id); n > s.cfg.MaxSessionBytes {
		return entry{}, fmt.Errorf("session of %d bytes exceeds MaxSessionBytes (%d): %w",
			n, s.cfg.MaxSessionBytes, session.ErrTooLarge)
	}
	return entry{data: bytes.Clone(data), deadline: deadlineNanos(rec), version: rec.Version}, nil
}

// decode returns a fresh copy of the record of session id held in e.
func decode(id string, e entry) (session.Record, error) {
	var rec session.Record
	if err := rec.UnmarshalBinary(e.data[len(id):]); err != nil {
		return session.Record{}, fmt.Errorf("memory: decode stored session: %w", err)
	}
	rec.ID = id
	return rec, nil
}

var (
	minNanoTime = time.Unix(0, math.MinInt64)
	maxNanoTime = time.Unix(0, math.MaxInt64)
)

// deadlineNanos is rec's deadline in Unix nanoseconds, clamped to the int64
// range (a zero deadline is long past; one after 2262 is never).
func deadlineNanos(rec *session.Record) int64 {
	d := rec.Deadline()
	switch {
	case d.Before(minNanoTime):
		return math.MinInt64
	case d.After(maxNanoTime):
		return math.MaxInt64
	}
	return d.UnixNano()
}

// getLocked returns the live entry of id, removing it if it has expired.
func (s *Store) getLocked(sh *shard, id string, now int64) (entry, bool) {
	e, ok := sh.entries[id]
	if ok && e.deadline <= now {
		s.dropLocked(sh, id, e)
		s.expired.Add(1)
		return entry{}, false
	}
	return e, ok
}

// setLocked stores e under id and evicts from sh while the store is over its
// bounds.
func (s *Store) setLocked(sh *shard, id string, e entry) {
	if old, ok := sh.entries[id]; ok {
		s.bytes.Add(-old.size())
		delete(sh.entries, id) // so that the new key, sharing e.data, is the one kept
	} else {
		s.sessions.Add(1)
	}
	sh.entries[e.key(len(id))] = e
	s.bytes.Add(e.size())
	for s.overLimit() && s.evictOneLocked(sh, id) {
	}
}

func (s *Store) dropLocked(sh *shard, id string, e entry) {
	delete(sh.entries, id)
	s.sessions.Add(-1)
	s.bytes.Add(-e.size())
}

func (s *Store) overLimit() bool {
	return s.cfg.MaxSessions > 0 && s.sessions.Load() > int64(s.cfg.MaxSessions) ||
		s.cfg.MaxBytes > 0 && s.bytes.Load() > s.cfg.MaxBytes
}

// evictOneLocked evicts, among a few sessions of sh other than keep, the one
// with the earliest deadline. Go's map iteration starts at a random place, so
// the first entries are a random sample. It reports whether it evicted.
func (s *Store) evictOneLocked(sh *shard, keep string) bool {
	victim, deadline, seen := "", int64(0), 0
	for id, e := range sh.entries {
		if id == keep {
			continue
		}
		if seen == 0 || e.deadline < deadline {
			victim, deadline = id, e.deadline
		}
		if seen++; seen == evictionSample {
			break
		}
	}
	if seen == 0 {
		return false
	}
	s.dropLocked(sh, victim, sh.entries[victim])
	if deadline <= s.now() {
		s.expired.Add(1)
	} else {
		s.evictions.Add(1)
	}
	return true
}

// trim evicts from the other shards while the store is still over its
// bounds after the written shard had nothing left to give (a bound smaller
// than the number of shards, or one very large session).
func (s *Store) trim(keep string) {
	start := int(s.next.Add(1))
	for i := 0; i < len(s.shards) && s.overLimit(); i++ {
		sh := &s.shards[(start+i)&(len(s.shards)-1)]
		sh.mu.Lock()
		for s.overLimit() && s.evictOneLocked(sh, keep) {
		}
		sh.mu.Unlock()
	}
}

func (s *Store) sweepShard(sh *shard, now int64) int {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	n := 0
	for id, e := range sh.entries {
		if e.deadline <= now {
			s.dropLocked(sh, id, e)
			n++
		}
	}
	s.expired.Add(uint64(n))
	return n
}
