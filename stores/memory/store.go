package memory

import (
	"context"
	"fmt"
	"sync/atomic"

	"github.com/sessionmesh/sessionmesh/internal/engine"
	"github.com/sessionmesh/sessionmesh/session"
)

// Config configures a Store; its fields are documented at their
// definition. The zero value of every field means its default.
type Config = engine.Config

// Stats are the Store's counters.
type Stats = engine.Stats

// DefaultConfig returns a Config with every default filled in.
func DefaultConfig() Config { return engine.DefaultConfig() }

// Errors returned by Save besides those of the session package
// (session.ErrNotFound, session.ErrTooLarge, session.ErrClosed). Nothing is
// written when they are returned.
var (
	// ErrInvalidID is returned when a patch's NewID is not a well-formed
	// session ID (see session.ValidID).
	ErrInvalidID = engine.ErrInvalidID

	// ErrIDInUse is returned when a new or renewed session's ID already
	// names a live session. With IDs from session.NewID it does not happen.
	ErrIDInUse = engine.ErrIDInUse
)

// Store is the in-process session store. It implements session.Store,
// session.BinaryLoader, session.EventSource, session.PrincipalIndex and
// session.Counter. All methods are safe for concurrent use.
type Store struct {
	m      *engine.Map
	closed atomic.Bool
}

// New validates cfg, fills in defaults and returns a Store whose sweeper
// runs until Close.
func New(cfg Config) (*Store, error) {
	m, err := engine.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("memory: %w", err)
	}
	return &Store{m: m}, nil
}

// Close stops the sweeper and waits for it. Afterwards Load, Save and
// Delete fail with session.ErrClosed. Close is idempotent and always
// returns nil.
func (s *Store) Close() error {
	s.closed.Store(true)
	return s.m.Close()
}

// Stats returns the Store's counters.
func (s *Store) Stats() Stats { return s.m.Stats() }

// OnRemoval implements session.EventSource: fn is called once for each
// session the Store removes on its own, expired (found by a read, the
// sweeper or an eviction) or evicted at MaxSessions or MaxBytes, after
// the removal, in the goroutine that removed it. A session.Manager with
// Config.OnEvent registers here; a later call replaces fn.
func (s *Store) OnRemoval(fn func(session.Removal)) { s.m.OnRemoval(fn) }

// Load implements session.Store. A token that is not a well-formed ID is
// never looked up.
func (s *Store) Load(_ context.Context, token string) (session.Record, bool, error) {
	if s.closed.Load() {
		return session.Record{}, false, fmt.Errorf("memory: load: %w", session.ErrClosed)
	}
	rec, found := s.m.Get(token)
	return rec, found, nil
}

// LoadBinary implements session.BinaryLoader: Load without decoding, one
// copy of the stored bytes (whose ID is empty: the token names the session).
func (s *Store) LoadBinary(_ context.Context, token string) ([]byte, bool, error) {
	if s.closed.Load() {
		return nil, false, fmt.Errorf("memory: load: %w", session.ErrClosed)
	}
	data, found := s.m.LoadBinary(token)
	return data, found, nil
}

// Save implements session.Store. The token it returns is the session's ID.
func (s *Store) Save(_ context.Context, token string, p session.Patch) (string, error) {
	var err error
	switch {
	case s.closed.Load():
		err = session.ErrClosed
	case token == "":
		token, err = p.NewID, s.m.Create(p)
	case p.NewID != "" && p.NewID != token:
		token, err = p.NewID, s.m.Renew(token, p)
	default:
		err = s.m.Patch(token, p)
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
	s.m.Remove(token)
	return nil
}

// PrincipalSessions implements session.PrincipalIndex: the Store keeps an
// index from each principal to its sessions, updated with every write,
// renew, delete, expiry and eviction, so it reads only the principal's
// sessions.
func (s *Store) PrincipalSessions(_ context.Context, principal string) ([]session.Record, error) {
	if s.closed.Load() {
		return nil, fmt.Errorf("memory: sessions of a principal: %w", session.ErrClosed)
	}
	var recs []session.Record
	for _, id := range s.m.Principal(principal) {
		if rec, found := s.m.Get(id); found {
			recs = append(recs, rec)
		}
	}
	return recs, nil
}

// Iterate implements session.Iterator: a shard at a time, each locked
// only while its records are copied out, so fn may call the store.
func (s *Store) Iterate(ctx context.Context, fn func(session.Record) bool) error {
	if s.closed.Load() {
		return fmt.Errorf("memory: iterate: %w", session.ErrClosed)
	}
	var err error
	s.m.Range(func(_ string, rec session.Record) bool {
		if err = ctx.Err(); err != nil {
			return false
		}
		return fn(rec)
	})
	if err != nil {
		return fmt.Errorf("memory: iterate: %w", err)
	}
	return nil
}

// Count implements session.Counter: the sessions held, with expired ones
// the sweeper has not removed yet.
func (s *Store) Count(context.Context) (int, error) {
	if s.closed.Load() {
		return 0, fmt.Errorf("memory: count: %w", session.ErrClosed)
	}
	return s.m.Stats().Sessions, nil
}
