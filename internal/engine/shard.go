package engine

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sessionmesh/sessionmesh/session"
)

// evictionSample is how many sessions eviction compares: enough to find one
// near its deadline, few enough to cost next to nothing (Redis samples 5).
const evictionSample = 5

// entryOverhead approximates what one session costs besides its slot: its
// index entry (8 bytes in a table between about half and four fifths
// full). MaxBytes counts it so that many tiny sessions are bounded too.
const entryOverhead = 12

// shard is one independently locked part of the store.
type shard struct {
	mu      sync.Mutex // guards index, slab, removed and principals
	index   index      // session key -> loc of its record in slab
	slab    slab
	removed []session.Removal // expired and evicted, for onRemoval once unlocked
	// principals is the principal index (principals.go): principal -> its
	// sessions here; nil until the first.
	principals map[string]map[key]struct{}
	// onRemoval is the Map's OnRemoval hook (nil: none), read at unlock.
	onRemoval *atomic.Pointer[func(session.Removal)]
}

// unlock compacts the slab and shrinks the index if writes left them
// sparse (see slab, index.shrink), then releases the shard and reports
// what it removed on its own to the OnRemoval hook. Every path that locks
// a shard unlocks it here, so neither runs inside a walk over the index,
// and the hook never runs under a shard's lock (it may call the Map).
func (sh *shard) unlock() {
	if sh.slab.sparse != 0 && sh.slab.evacuate() {
		sh.index.each(func(i int, loc uint32) bool {
			if sh.slab.evacuating(loc) {
				sh.index.setLoc(i, sh.slab.move(loc))
			}
			return true
		})
	}
	if sh.index.sparse() {
		sh.index.shrink()
	}
	removed := sh.removed
	sh.removed = nil
	sh.mu.Unlock()
	if len(removed) == 0 {
		return
	}
	if fn := sh.onRemoval.Load(); fn != nil {
		for _, r := range removed {
			(*fn)(r)
		}
	}
}

// find returns the index slot of the session r, or -1 when sh holds none.
func (sh *shard) find(r *ref) int {
	return sh.index.probe(tagOf(r.h), func(loc uint32) bool { return *sh.slab.key(loc) == r.k })
}

// removedLocked records, before the session at loc is dropped, that the
// Map removed it on its own (expired, or evicted when evicted), for the
// OnRemoval hook. Without a hook it costs one atomic load.
func (s *Map) removedLocked(sh *shard, loc uint32, evicted bool) {
	if sh.onRemoval.Load() == nil {
		return
	}
	r := session.Removal{Kind: session.EventExpired, ID: sh.slab.key(loc).String(), Data: bytes.Clone(sh.slab.load(loc)),
		At: time.Unix(0, sh.slab.deadline(loc))}
	if evicted {
		r.Kind, r.At = session.EventEvicted, s.cfg.Now()
	}
	sh.removed = append(sh.removed, r)
}

// key is a session ID decoded to its 32 bytes: a map key without a pointer,
// so the index costs the garbage collector nothing, and never a reference to
// a caller's string (a token cut from a request's Cookie header would
// otherwise keep the whole header alive).
type key [session.IDBytes]byte

// keyOf returns the key of id; ok is false when id is not a well-formed ID
// (exactly what session.ValidID accepts). It checks and decodes in one
// pass, four characters to three bytes, with no allocation: every request
// looks up a key.
func keyOf(id string) (k key, ok bool) {
	if len(id) != session.IDLen {
		return k, false
	}
	var bad byte // collects the values: a byte that is not base64url has its top bits set
	for i, j := 0, 0; i < 40; i, j = i+4, j+3 {
		a, b, c, d := base64URL[id[i]], base64URL[id[i+1]], base64URL[id[i+2]], base64URL[id[i+3]]
		bad |= a | b | c | d
		v := uint32(a)<<18 | uint32(b)<<12 | uint32(c)<<6 | uint32(d)
		k[j], k[j+1], k[j+2] = byte(v>>16), byte(v>>8), byte(v)
	}
	a, b, c := base64URL[id[40]], base64URL[id[41]], base64URL[id[42]]
	bad |= a | b | c
	v := uint32(a)<<12 | uint32(b)<<6 | uint32(c)
	k[30], k[31] = byte(v>>10), byte(v>>2)
	// The last 2 of the 258 bits must be zero, so that each ID has one
	// spelling.
	return k, bad&0xc0 == 0 && v&3 == 0
}

// base64URL maps each base64url character to its value and every other
// byte to 0xff.
var base64URL = func() (t [256]byte) {
	for i := range t {
		t[i] = 0xff
	}
	for i, c := range "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_" {
		t[c] = byte(i)
	}
	return t
}()

func (k *key) String() string {
	var b [session.IDLen]byte
	return string(k.text(&b))
}

// text writes k's ID, as String gives it, into dst and returns it: a walk
// of every session names each one without an allocation (RangeBinary).
func (k *key) text(dst *[session.IDLen]byte) []byte {
	base64.RawURLEncoding.Encode(dst[:], k[:])
	return dst[:]
}

// encode appends the binary form of rec, without its ID (the index holds
// it), to scratch, refusing a session over MaxSessionBytes.
func (s *Map) encode(rec *session.Record, scratch []byte) ([]byte, error) {
	anonymous := *rec
	anonymous.ID = ""
	return s.checkSize(anonymous.AppendBinary(scratch))
}

func (s *Map) checkSize(data []byte) ([]byte, error) {
	if len(data) > s.cfg.MaxSessionBytes {
		return nil, fmt.Errorf("session of %d bytes exceeds MaxSessionBytes (%d): %w",
			len(data), s.cfg.MaxSessionBytes, session.ErrTooLarge)
	}
	return data, nil
}

// decode returns a fresh copy of the record of session id held in data.
func decode(id string, data []byte) (session.Record, error) {
	var rec session.Record
	if err := rec.UnmarshalBinary(data); err != nil {
		return session.Record{}, fmt.Errorf("decode stored session: %w", err)
	}
	rec.ID = id
	return rec, nil
}

var (
	minNanoTime = time.Unix(0, 0)
	maxNanoTime = time.Unix(0, usedBit-1)
)

// deadlineNanos is rec's deadline in Unix nanoseconds, clamped to what a
// slot's deadline word holds below usedBit: one before 1970 (a zero
// deadline among them) is long past, one after 2116 is never.
func deadlineNanos(rec *session.Record) int64 {
	d := rec.Deadline()
	switch {
	case d.Before(minNanoTime):
		return 0
	case d.After(maxNanoTime):
		return usedBit - 1
	}
	return d.UnixNano()
}

// getLocked returns the index slot and the loc of the live session r,
// removing it if it has expired; i is -1 and ok false when there is none.
// The slot is valid until the next removal from sh.
func (s *Map) getLocked(sh *shard, r *ref, now int64) (i int, loc uint32, ok bool) {
	if i = sh.find(r); i < 0 {
		return -1, 0, false
	}
	loc = sh.index.loc(i)
	if sh.slab.deadline(loc) <= now {
		s.removedLocked(sh, loc, false)
		s.dropLocked(sh, i)
		s.expired.Add(1)
		return -1, 0, false
	}
	return i, loc, true
}

// setLocked stores data, whose deadline is given, as the record of r, in
// place of the one in index slot i (-1: a new session), evicts from sh
// while the store is over its bounds and returns the record's loc.
func (s *Map) setLocked(sh *shard, r *ref, i int, data []byte, deadline int64) uint32 {
	var old []byte
	if i >= 0 {
		old = sh.slab.load(sh.index.loc(i))
	}
	sh.reindexLocked(r.k, old, data)
	return s.storeLocked(sh, r, i, data, deadline)
}

// setPatchedLocked is setLocked for data, the record of r with p applied
// (no record before it for a new session): when p leaves the principal
// as it is, so does the index, and the save reads no principal.
func (s *Map) setPatchedLocked(sh *shard, r *ref, i int, data []byte, deadline int64, p *session.Patch) uint32 {
	if _, changed := p.Principal(); changed {
		return s.setLocked(sh, r, i, data, deadline)
	}
	return s.storeLocked(sh, r, i, data, deadline)
}

// storeLocked is setLocked without the principal index.
func (s *Map) storeLocked(sh *shard, r *ref, i int, data []byte, deadline int64) uint32 {
	loc := s.putLocked(sh, r, i, data, deadline)
	for s.overLimit() && s.evictOneLocked(sh, &r.k) {
	}
	return loc
}

// putLocked is storeLocked without the eviction.
func (s *Map) putLocked(sh *shard, r *ref, i int, data []byte, deadline int64) uint32 {
	var loc uint32
	if i >= 0 {
		old := sh.index.loc(i)
		s.bytes.Add(-int64(sh.slab.size(old)))
		loc = sh.slab.replace(old, data, deadline)
		sh.index.setLoc(i, loc)
		s.bytes.Add(int64(sh.slab.size(loc)))
	} else {
		loc = sh.slab.store(&r.k, data, deadline)
		sh.index.insert(tagOf(r.h), loc)
		s.sessions.Add(1)
		s.bytes.Add(int64(sh.slab.size(loc) + entryOverhead))
	}
	return loc
}

// dropLocked removes the session in index slot i.
func (s *Map) dropLocked(sh *shard, i int) {
	loc := sh.index.loc(i)
	s.bytes.Add(-int64(sh.slab.size(loc) + entryOverhead))
	s.sessions.Add(-1)
	if len(sh.principals) > 0 {
		sh.unindexLocked(*sh.slab.key(loc), session.BinaryPrincipal(sh.slab.load(loc)))
	}
	sh.slab.free(loc)
	sh.index.remove(i)
}

func (s *Map) overLimit() bool {
	return s.cfg.MaxSessions > 0 && s.sessions.Load() > int64(s.cfg.MaxSessions) ||
		s.cfg.MaxBytes > 0 && s.bytes.Load() > s.cfg.MaxBytes
}

// evictOneLocked evicts, among a few sessions of sh other than keep, one
// that may go (spare): an expired one first, else the one with the
// earliest deadline. The sample starts at a random slot of the index. It
// reports whether it evicted; it evicts nothing when the sample holds only
// sessions in use.
func (s *Map) evictOneLocked(sh *shard, keep *key) bool {
	now := s.now()
	victim, deadline, seen := -1, int64(0), 0
	sh.index.sample(rand.Uint32(), func(i int, loc uint32) bool {
		if *sh.slab.key(loc) == *keep {
			return true
		}
		if d := sh.slab.deadline(loc); spare(sh, loc, d, now) && (victim < 0 || d < deadline) {
			victim, deadline = i, d
		}
		seen++
		return seen < evictionSample
	})
	if victim < 0 {
		return false
	}
	s.removedLocked(sh, sh.index.loc(victim), deadline > now)
	s.dropLocked(sh, victim)
	if deadline <= now {
		s.expired.Add(1)
	} else {
		s.evictions.Add(1)
	}
	return true
}

// spare reports whether the session at loc, whose deadline is d, may be
// evicted to respect a bound: it has expired, or it was never used again
// after the request that created it (no read or patch marked it, and it
// holds its first version: a replica copy written twice counts as used).
// A flood of new sessions then displaces itself, not the users who come
// back.
func spare(sh *shard, loc uint32, d, now int64) bool {
	if d <= now {
		return true
	}
	if sh.slab.used(loc) {
		return false
	}
	var h session.Record
	return h.UnmarshalHeader(sh.slab.load(loc)) == nil && h.Version <= 1
}

// trim evicts spare sessions from the other shards while the store is
// still over its bounds after the written shard had nothing left to give
// (a bound smaller than the number of shards, or one very large session).
// It reports whether the store is within its bounds.
func (s *Map) trim(keep *key) bool {
	start := int(s.next.Add(1))
	for i := 0; i < len(s.shards) && s.overLimit(); i++ {
		sh := &s.shards[(start+i)&(len(s.shards)-1)]
		sh.mu.Lock()
		for s.overLimit() && s.evictOneLocked(sh, keep) {
		}
		sh.unlock()
	}
	return !s.overLimit()
}

func (s *Map) sweepShard(sh *shard, now int64) int {
	sh.mu.Lock()
	defer sh.unlock()
	n := 0
	sh.index.each(func(i int, loc uint32) bool {
		if sh.slab.deadline(loc) <= now {
			s.removedLocked(sh, loc, false)
			s.dropLocked(sh, i)
			n++
		}
		return true
	})
	s.expired.Add(uint64(n))
	return n
}
