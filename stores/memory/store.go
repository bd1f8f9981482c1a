package memory

import (
	"bytes"
	"context"
	"fmt"
	"hash/maphash"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sessionmesh/sessionmesh/session"
)

// Store is the in-process session store. It implements session.Store; its
// engine methods (Get, Update, Put, Remove, Range) serve the cluster package.
// All methods are safe for concurrent use.
type Store struct {
	cfg    Config
	seed   maphash.Seed
	shards []shard

	sessions  atomic.Int64
	bytes     atomic.Int64
	evictions atomic.Uint64
	expired   atomic.Uint64
	next      atomic.Uint32 // the shard trim starts at, rotated

	closeOnce sync.Once
	closed    atomic.Bool
	stop      chan struct{}
	wg        sync.WaitGroup
}

// Stats are the Store's counters.
type Stats struct {
	Sessions  int    // sessions held, including expired ones not yet removed
	Bytes     int64  // memory held as MaxBytes counts it
	Evictions uint64 // live sessions evicted to respect MaxSessions or MaxBytes
	Expired   uint64 // expired sessions removed by reads, the sweeper or eviction
}

// New validates cfg, fills in defaults and returns a Store whose sweeper runs
// until Close.
func New(cfg Config) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.setDefaults()
	s := &Store{cfg: cfg, seed: maphash.MakeSeed(), shards: make([]shard, cfg.Shards), stop: make(chan struct{})}
	for i := range s.shards {
		s.shards[i].index = make(map[key]uint32)
	}
	// The engine methods work after Close, so the pages outside the Go heap
	// can only be given back once nothing can reach the Store.
	runtime.AddCleanup(s, releaseShards, s.shards)
	s.wg.Add(1)
	go s.sweepLoop()
	return s, nil
}

func releaseShards(shards []shard) {
	for i := range shards {
		shards[i].mu.Lock()
		shards[i].slab.releaseAll()
		shards[i].mu.Unlock()
	}
}

// Close stops the sweeper and waits for it. Afterwards Load, Save and Delete
// fail with session.ErrClosed; the engine methods keep working on the
// sessions still held, so a cluster node can hand them off. Close is
// idempotent and always returns nil.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.closed.Store(true)
		close(s.stop)
		s.wg.Wait()
	})
	return nil
}

// Stats returns the Store's counters.
func (s *Store) Stats() Stats {
	return Stats{
		Sessions:  int(s.sessions.Load()),
		Bytes:     s.bytes.Load(),
		Evictions: s.evictions.Load(),
		Expired:   s.expired.Load(),
	}
}

// Load implements session.Store. A token that is not a well-formed ID is
// never looked up.
func (s *Store) Load(_ context.Context, token string) (session.Record, bool, error) {
	if s.closed.Load() {
		return session.Record{}, false, fmt.Errorf("memory: load: %w", session.ErrClosed)
	}
	rec, found := s.Get(token)
	return rec, found, nil
}

// LoadBinary implements session.BinaryLoader: Load without decoding, one
// copy of the stored bytes (whose ID is empty: the token names the session).
func (s *Store) LoadBinary(_ context.Context, token string) ([]byte, bool, error) {
	if s.closed.Load() {
		return nil, false, fmt.Errorf("memory: load: %w", session.ErrClosed)
	}
	k, ok := keyOf(token)
	if !ok {
		return nil, false, nil
	}
	sh := s.shardFor(&k)
	sh.mu.Lock()
	defer sh.unlock()
	loc, ok := s.getLocked(sh, k, s.now())
	if !ok {
		return nil, false, nil
	}
	return bytes.Clone(sh.slab.load(loc)), true, nil
}

// Save implements session.Store. The token it returns is the session's ID.
func (s *Store) Save(_ context.Context, token string, p session.Patch) (string, error) {
	var err error
	switch {
	case s.closed.Load():
		err = session.ErrClosed
	case token == "":
		token, err = s.create(p)
	case p.NewID != "" && p.NewID != token:
		token, err = s.renew(token, p)
	default:
		err = s.patch(token, p)
	}
	if err != nil {
		return "", fmt.Errorf("memory: save: %w", err)
	}
	return token, nil
}

// Delete implements session.Store.
func (s *Store) Delete(_ context.Context, token string) error {
	if s.closed.Load() {
		return fmt.Errorf("memory: delete: %w", session.ErrClosed)
	}
	s.Remove(token)
	return nil
}

// The Save paths below apply the patch to the stored bytes
// (session.Patch.ApplyBinary): no decoded record, no map, no garbage. The
// patch they apply has no NewID, because the index, not the record, holds
// the ID.

// create stores a new session under p.NewID.
func (s *Store) create(p session.Patch) (string, error) {
	k, ok := keyOf(p.NewID)
	if !ok {
		return "", fmt.Errorf("%w: new session ID %.50q", ErrInvalidID, p.NewID)
	}
	sh := s.shardFor(&k)
	sh.mu.Lock()
	err := s.applyLocked(sh, k, false, p)
	sh.unlock()
	if err != nil {
		return "", err
	}
	s.trim(k)
	return p.NewID, nil
}

// patch applies p to the live session id.
func (s *Store) patch(id string, p session.Patch) error {
	k, ok := keyOf(id)
	if !ok {
		return session.ErrNotFound
	}
	sh := s.shardFor(&k)
	sh.mu.Lock()
	err := s.applyLocked(sh, k, true, p)
	sh.unlock()
	if err == nil {
		s.trim(k)
	}
	return err
}

// applyLocked applies p to the session k, which must exist (a patch) or
// must not (a create).
func (s *Store) applyLocked(sh *shard, k key, exists bool, p session.Patch) error {
	loc, found := s.getLocked(sh, k, s.now())
	switch {
	case found && !exists:
		return ErrIDInUse
	case !found && exists:
		return session.ErrNotFound
	}
	var old []byte
	if found {
		old = sh.slab.load(loc)
	}
	var scratch [512]byte
	data, deadline, err := s.applyBinary(p, scratch[:0], old)
	if err != nil {
		return err
	}
	s.setLocked(sh, k, data, deadline)
	return nil
}

// applyBinary applies p to the stored record old (nil for a new one) and
// returns the result, appended to scratch, with its deadline.
func (s *Store) applyBinary(p session.Patch, scratch, old []byte) ([]byte, int64, error) {
	p.NewID = ""
	data, head, err := p.ApplyBinary(scratch, old)
	if err != nil {
		return nil, 0, fmt.Errorf("memory: stored session: %w", err)
	}
	data, err = s.checkSize(data)
	return data, deadlineNanos(&head), err
}

// renew applies p to the session old and moves it to p.NewID, holding both
// shards' locks so that no patch on old can slip in between.
func (s *Store) renew(old string, p session.Patch) (string, error) {
	to, ok := keyOf(p.NewID)
	if !ok {
		return "", fmt.Errorf("%w: renewed session ID %.50q", ErrInvalidID, p.NewID)
	}
	from, ok := keyOf(old)
	if !ok {
		return "", session.ErrNotFound
	}
	i, j := s.shardIndex(&from), s.shardIndex(&to)
	unlock := s.lockPair(i, j)
	err := s.moveLocked(&s.shards[i], &s.shards[j], from, to, p)
	unlock()
	if err != nil {
		return "", err
	}
	s.trim(to)
	return p.NewID, nil
}

func (s *Store) moveLocked(from, to *shard, old, renewed key, p session.Patch) error {
	now := s.now()
	loc, ok := s.getLocked(from, old, now)
	if !ok {
		return session.ErrNotFound
	}
	if _, taken := s.getLocked(to, renewed, now); taken {
		return ErrIDInUse
	}
	var scratch [512]byte
	data, deadline, err := s.applyBinary(p, scratch[:0], from.slab.load(loc))
	if err != nil {
		return err
	}
	s.dropLocked(from, old, loc)
	s.setLocked(to, renewed, data, deadline)
	return nil
}

// now returns the clock in Unix nanoseconds, the unit of deadlines.
func (s *Store) now() int64 { return s.cfg.Now().UnixNano() }

func (s *Store) shardFor(k *key) *shard { return &s.shards[s.shardIndex(k)] }

func (s *Store) shardIndex(k *key) int {
	return int(maphash.Bytes(s.seed, k[:]) & uint64(len(s.shards)-1))
}

// lockPair locks shards i and j (once when they are the same) in index
// order, so two renews between the same shards cannot deadlock.
func (s *Store) lockPair(i, j int) (unlock func()) {
	if i == j {
		s.shards[i].mu.Lock()
		return s.shards[i].unlock
	}
	a, b := &s.shards[min(i, j)], &s.shards[max(i, j)]
	a.mu.Lock()
	b.mu.Lock()
	return func() { b.unlock(); a.unlock() }
}

func (s *Store) sweepLoop() {
	defer s.wg.Done()
	t := time.NewTicker(s.cfg.SweepInterval)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			s.sweep()
		}
	}
}

// sweep removes every expired session and returns how many it removed.
func (s *Store) sweep() int {
	now, n := s.now(), 0
	for i := range s.shards {
		n += s.sweepShard(&s.shards[i], now)
	}
	return n
}
