package engine

import (
	"bytes"
	"fmt"
	"hash/maphash"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sessionmesh/sessionmesh/session"
)

// Map holds session records by ID: a sharded map from the 32 bytes of an
// ID to the record's binary form in a slab (see the package doc). It is
// the storage of stores/memory and of every cluster node. All methods are
// safe for concurrent use, and they keep working after Close (which only
// stops the sweeper), so a cluster node can hand its sessions off while it
// stops.
//
// Every method takes a session ID; one that is not well-formed
// (session.ValidID) names no session: lookups find nothing, Remove does
// nothing, and writes fail with ErrInvalidID.
type Map struct {
	cfg    Config
	seed   maphash.Seed
	shards []shard
	// testHash, when set, hashes keys in place of maphash: a test forces
	// collisions with it. Set before the first use.
	testHash func(key) uint64

	sessions  atomic.Int64
	bytes     atomic.Int64
	evictions atomic.Uint64
	expired   atomic.Uint64
	refused   atomic.Uint64
	next      atomic.Uint32 // the shard trim starts at, rotated
	onRemoval atomic.Pointer[func(session.Removal)]

	closeOnce sync.Once
	stop      chan struct{}
	wg        sync.WaitGroup
}

// Stats are the Map's counters.
type Stats struct {
	Sessions  int    // sessions held, including expired ones not yet removed
	Bytes     int64  // memory held as MaxBytes counts it
	Evictions uint64 // live sessions evicted to respect MaxSessions or MaxBytes
	Expired   uint64 // expired sessions removed by reads, the sweeper or eviction
	Refused   uint64 // new sessions refused (session.ErrFull): no session could be evicted
}

// New validates cfg, fills in defaults and returns a Map whose sweeper runs
// until Close.
func New(cfg Config) (*Map, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.setDefaults()
	s := &Map{cfg: cfg, seed: maphash.MakeSeed(), shards: make([]shard, cfg.Shards), stop: make(chan struct{})}
	for i := range s.shards {
		s.shards[i].onRemoval = &s.onRemoval
	}
	// The methods work after Close, so the pages outside the Go heap can
	// only be given back once nothing can reach the Map.
	runtime.AddCleanup(s, releaseShards, s.shards)
	s.wg.Add(1)
	go s.sweepLoop()
	return s, nil
}

func releaseShards(shards []shard) {
	for i := range shards {
		shards[i].mu.Lock()
		shards[i].slab.releaseAll()
		shards[i].index.release()
		shards[i].mu.Unlock()
	}
}

// Close stops the sweeper and waits for it. It is idempotent and always
// returns nil.
func (s *Map) Close() error {
	s.closeOnce.Do(func() {
		close(s.stop)
		s.wg.Wait()
	})
	return nil
}

// OnRemoval makes the Map call fn with each session it removes on its
// own: expired (found by a read, the sweeper or eviction) or evicted at a
// bound. fn runs after the shard's lock is released, in the goroutine that
// removed the session, so it may call the Map; it must be fast. A later
// call replaces fn; nil stops the calls. Remove, Renew and overwrites are
// the caller's doing and are not reported.
func (s *Map) OnRemoval(fn func(session.Removal)) {
	if fn == nil {
		s.onRemoval.Store(nil)
		return
	}
	s.onRemoval.Store(&fn)
}

// Stats returns the Map's counters.
func (s *Map) Stats() Stats {
	return Stats{
		Sessions:  int(s.sessions.Load()),
		Bytes:     s.bytes.Load(),
		Evictions: s.evictions.Load(),
		Expired:   s.expired.Load(),
		Refused:   s.refused.Load(),
	}
}

// LoadBinary returns a copy of the binary form of the live session id
// (session.Record.AppendBinary, without the ID: the index holds it), for a
// request that reads it: the session counts as used again (see the bounds
// in the package doc). Peek reads without that.
func (s *Map) LoadBinary(id string) ([]byte, bool) {
	data, found, _ := s.loadBinary(id, true, false)
	return data, found
}

// LoadBinaryFirst is LoadBinary that also reports whether this read is
// the session's first use: until it, the session counted as spare (never
// used after the request that created it). A node that serves a read
// without the primary learning of it (a backup under a read lease) sends
// that first one on, so that the primary, which decides what is spare,
// does not evict a session its users read.
func (s *Map) LoadBinaryFirst(id string) (data []byte, found, first bool) {
	return s.loadBinary(id, true, true)
}

// Peek is LoadBinary for a read that is not a user's request (a replica's
// repair, a hand-back): the session does not count as used.
func (s *Map) Peek(id string) ([]byte, bool) {
	data, found, _ := s.loadBinary(id, false, false)
	return data, found
}

// loadBinary reads id for LoadBinary (use), LoadBinaryFirst (use and
// first: whether the session was spare until this read) and Peek.
func (s *Map) loadBinary(id string, use, first bool) (data []byte, found, wasFirst bool) {
	r, ok := s.refOf(id)
	if !ok {
		return nil, false, false
	}
	sh := s.shardOf(&r)
	sh.mu.Lock()
	defer sh.unlock()
	now := s.now()
	_, loc, ok := s.getLocked(sh, &r, now)
	if !ok {
		return nil, false, false
	}
	if first {
		wasFirst = spare(sh, loc, sh.slab.deadline(loc), now)
	}
	if use {
		sh.slab.markUsed(loc)
	}
	return bytes.Clone(sh.slab.load(loc)), true, wasFirst
}

// The Save paths below apply the patch to the stored bytes
// (session.Patch.ApplyBinary): no decoded record, no map, no garbage. The
// patch they apply has no NewID, because the index, not the record, holds
// the ID.

// Create stores a new session under p.NewID (ErrIDInUse when a live
// session has that ID). At a bound it makes room by evicting expired and
// spare sessions (never used again after their first request); when that
// is not enough it stores nothing and fails with session.ErrFull.
func (s *Map) Create(p session.Patch) error {
	r, ok := s.refOf(p.NewID)
	if !ok {
		return fmt.Errorf("%w: new session ID %.50q", ErrInvalidID, p.NewID)
	}
	sh := s.shardOf(&r)
	sh.mu.Lock()
	_, err := s.applyLocked(sh, &r, false, p)
	sh.unlock()
	if err != nil {
		return err
	}
	if !s.trim(&r.k) {
		s.Remove(p.NewID)
		s.refused.Add(1)
		return fmt.Errorf("%w: %d sessions, %d bytes held, none of them evictable", session.ErrFull, s.sessions.Load(), s.bytes.Load())
	}
	return nil
}

// Patch applies p (whose NewID is ignored) to the live session id;
// session.ErrNotFound when there is none.
func (s *Map) Patch(id string, p session.Patch) error {
	r, ok := s.refOf(id)
	if !ok {
		return session.ErrNotFound
	}
	sh := s.shardOf(&r)
	sh.mu.Lock()
	loc, err := s.applyLocked(sh, &r, true, p)
	if err == nil {
		sh.slab.markUsed(loc)
	}
	sh.unlock()
	if err == nil {
		s.trim(&r.k)
	}
	return err
}

// applyLocked applies p to the session r, which must exist (a patch) or
// must not (a create), and returns the loc of its record.
func (s *Map) applyLocked(sh *shard, r *ref, exists bool, p session.Patch) (uint32, error) {
	i, loc, found := s.getLocked(sh, r, s.now())
	switch {
	case found && !exists:
		return 0, ErrIDInUse
	case !found && exists:
		return 0, session.ErrNotFound
	}
	var old []byte
	if found {
		old = sh.slab.load(loc)
	}
	var scratch [512]byte
	data, deadline, err := s.applyBinary(p, scratch[:0], old)
	if err != nil {
		return 0, err
	}
	return s.setPatchedLocked(sh, r, i, data, deadline, &p), nil
}

// applyBinary applies p to the stored record old (nil for a new one) and
// returns the result, appended to scratch, with its deadline.
func (s *Map) applyBinary(p session.Patch, scratch, old []byte) ([]byte, int64, error) {
	p.NewID = ""
	data, head, err := p.ApplyBinary(scratch, old)
	if err != nil {
		return nil, 0, fmt.Errorf("stored session: %w", err)
	}
	data, err = s.checkSize(data)
	return data, deadlineNanos(&head), err
}

// Renew applies p to the session old and moves it to p.NewID, holding both
// shards' locks so that no patch on old can slip in between.
func (s *Map) Renew(old string, p session.Patch) error {
	to, ok := s.refOf(p.NewID)
	if !ok {
		return fmt.Errorf("%w: renewed session ID %.50q", ErrInvalidID, p.NewID)
	}
	from, ok := s.refOf(old)
	if !ok {
		return session.ErrNotFound
	}
	i, j := s.shardIndex(&from), s.shardIndex(&to)
	unlock := s.lockPair(i, j)
	err := s.moveLocked(&s.shards[i], &s.shards[j], &from, &to, p)
	unlock()
	if err != nil {
		return err
	}
	s.trim(&to.k)
	return nil
}

func (s *Map) moveLocked(from, to *shard, old, renewed *ref, p session.Patch) error {
	now := s.now()
	_, loc, ok := s.getLocked(from, old, now)
	if !ok {
		return session.ErrNotFound
	}
	if _, _, taken := s.getLocked(to, renewed, now); taken {
		return ErrIDInUse
	}
	var scratch [512]byte
	data, deadline, err := s.applyBinary(p, scratch[:0], from.slab.load(loc))
	if err != nil {
		return err
	}
	// The counts the bounds compare hold the old session until the new
	// one is in: a concurrent Create's trim that saw them one session low
	// between the two would keep its session, and the store would end
	// over MaxSessions, the renew being no new session to refuse.
	held := int64(from.slab.size(loc) + entryOverhead)
	s.sessions.Add(1)
	s.bytes.Add(held)
	// Looking renewed up may have removed an expired session of the same
	// shard, which moves entries of its index: old is looked up again.
	s.dropLocked(from, from.find(old))
	to.reindexLocked(renewed.k, nil, data)
	loc = s.putLocked(to, renewed, -1, data, deadline)
	s.sessions.Add(-1)
	s.bytes.Add(-held)
	to.slab.markUsed(loc) // a renew comes from a request of the session
	return nil
}

// now returns the clock in Unix nanoseconds, the unit of deadlines.
func (s *Map) now() int64 { return s.cfg.Now().UnixNano() }

// ref is a session's key with its hash, computed once per call: its low
// bits choose the shard, its high bits are the key's tag in the shard's
// index.
type ref struct {
	k key
	h uint64
}

// refOf returns the ref of id; ok is false when id is not a well-formed
// ID.
func (s *Map) refOf(id string) (ref, bool) {
	k, ok := keyOf(id)
	if !ok {
		return ref{}, false
	}
	return ref{k: k, h: s.hash(&k)}, true
}

func (s *Map) hash(k *key) uint64 {
	if s.testHash != nil {
		return s.testHash(*k)
	}
	return maphash.Bytes(s.seed, k[:])
}

func (s *Map) shardOf(r *ref) *shard { return &s.shards[s.shardIndex(r)] }

func (s *Map) shardIndex(r *ref) int { return int(r.h & uint64(len(s.shards)-1)) }

// lockPair locks shards i and j (once when they are the same) in index
// order, so two renews between the same shards cannot deadlock.
func (s *Map) lockPair(i, j int) (unlock func()) {
	if i == j {
		s.shards[i].mu.Lock()
		return s.shards[i].unlock
	}
	a, b := &s.shards[min(i, j)], &s.shards[max(i, j)]
	a.mu.Lock()
	b.mu.Lock()
	return func() { b.unlock(); a.unlock() }
}

func (s *Map) sweepLoop() {
	defer s.wg.Done()
	t := time.NewTicker(s.cfg.SweepInterval)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			s.Sweep()
		}
	}
}

// Sweep removes every expired session and returns how many it removed:
// what the sweeper does every SweepInterval, and what a test that advances
// a clock calls instead of waiting for the ticker.
func (s *Map) Sweep() int {
	now, n := s.now(), 0
	for i := range s.shards {
		n += s.sweepShard(&s.shards[i], now)
	}
	return n
}
