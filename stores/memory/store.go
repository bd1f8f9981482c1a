package memory

import (
	"context"
	"fmt"
	"hash/maphash"
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
		s.shards[i].entries = make(map[string]entry)
	}
	s.wg.Add(1)
	go s.sweepLoop()
	return s, nil
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
	if !session.ValidID(token) {
		return session.Record{}, false, nil
	}
	rec, found := s.Get(token)
	return rec, found, nil
}

// Save implements session.Store. The token it returns is the session's ID.
func (s *Store) Save(_ context.Context, token string, p session.Patch) (string, error) {
	var err error
	switch {
	case s.closed.Load():
		err = session.ErrClosed
	case token == "":
		token, err = s.create(p)
	case !session.ValidID(token):
		err = session.ErrNotFound
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
	if session.ValidID(token) {
		s.Remove(token)
	}
	return nil
}

// create stores a new session under p.NewID.
func (s *Store) create(p session.Patch) (string, error) {
	if !session.ValidID(p.NewID) {
		return "", fmt.Errorf("%w: new session ID %.50q", ErrInvalidID, p.NewID)
	}
	_, err := s.Update(p.NewID, func(rec *session.Record, found bool) (bool, error) {
		if found {
			return false, ErrIDInUse
		}
		p.Apply(rec)
		return true, nil
	})
	return p.NewID, err
}

// patch applies p to the live session id.
func (s *Store) patch(id string, p session.Patch) error {
	_, err := s.Update(id, func(rec *session.Record, found bool) (bool, error) {
		if !found {
			return false, session.ErrNotFound
		}
		p.Apply(rec)
		return true, nil
	})
	return err
}

// renew applies p to the session old and moves it to p.NewID, holding both
// shards' locks so that no patch on old can slip in between.
func (s *Store) renew(old string, p session.Patch) (string, error) {
	if !session.ValidID(p.NewID) {
		return "", fmt.Errorf("%w: renewed session ID %.50q", ErrInvalidID, p.NewID)
	}
	now := s.now()
	i, j := s.shardIndex(old), s.shardIndex(p.NewID)
	unlock := s.lockPair(i, j)
	err := s.moveLocked(&s.shards[i], &s.shards[j], old, p, now)
	unlock()
	if err != nil {
		return "", err
	}
	s.trim(p.NewID)
	return p.NewID, nil
}

func (s *Store) moveLocked(from, to *shard, old string, p session.Patch, now int64) error {
	e, ok := s.getLocked(from, old, now)
	if !ok {
		return session.ErrNotFound
	}
	if _, taken := s.getLocked(to, p.NewID, now); taken {
		return ErrIDInUse
	}
	rec, err := decode(old, e)
	if err != nil {
		return err
	}
	p.Apply(&rec)
	moved, err := s.encode(p.NewID, &rec)
	if err != nil {
		return err
	}
	s.dropLocked(from, old, e)
	s.setLocked(to, p.NewID, moved)
	return nil
}

// now returns the clock in Unix nanoseconds, the unit of entry deadlines.
func (s *Store) now() int64 { return s.cfg.Now().UnixNano() }

func (s *Store) shardFor(id string) *shard { return &s.shards[s.shardIndex(id)] }

func (s *Store) shardIndex(id string) int {
	return int(maphash.String(s.seed, id) & uint64(len(s.shards)-1))
}

// lockPair locks shards i and j (once when they are the same) in index
// order, so two renews between the same shards cannot deadlock.
func (s *Store) lockPair(i, j int) (unlock func()) {
	if i == j {
		s.shards[i].mu.Lock()
		return s.shards[i].mu.Unlock
	}
	a, b := &s.shards[min(i, j)], &s.shards[max(i, j)]
	a.mu.Lock()
	b.mu.Lock()
	return func() { b.mu.Unlock(); a.mu.Unlock() }
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
