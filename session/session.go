package session

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
)

// ErrNoSession is returned by every method of a nil *Session, which is what
// FromContext returns when no middleware put a session in the context.
var ErrNoSession = errors.New("session: no session in context (is the httpmw middleware installed?)")

// Session is one request's view of a session. It loads from the store on
// first use and records changes as a patch that the Manager saves before the
// response starts. Its methods are safe for concurrent use by the goroutines
// of one request.
type Session struct {
	m   *Manager
	ctx context.Context
	// token is the first token the client presented ("" when none) and,
	// once loaded, the one that named the session; rest are the others,
	// in order, tried when token does not load (Manager.Start).
	token string
	rest  []string
	// several records that the request sent more than one token, even
	// if rest holds none of the others (see Manager.Start).
	several bool

	mu        sync.Mutex // guards everything below
	loaded    bool
	err       error  // the load error, sticky for the request
	found     bool   // the token named a live session
	rec       Record // as loaded; from a BinaryLoader without Values
	vals      values // the values, when loaded from a BinaryLoader
	id        string // the ID to store a new or renewed session under
	set       map[string][]byte
	del       map[string]struct{}
	clear     bool
	timeouts  *Timeouts // set by SetTimeouts in this request
	renew     bool
	destroy   bool
	committed bool
}

type ctxKey struct{}

// sessionCtx is a context that carries a session and, through outer, the
// sessions of other Managers the context already carried: the sessions of
// one request, innermost first (Manager.FromContext). Each NewContext makes
// a new one, so the chain is the contexts' own and cannot loop, and no
// Session is changed. It is what context.WithValue would make, plus the
// link.
type sessionCtx struct {
	context.Context
	s     *Session
	outer *sessionCtx
}

func (c *sessionCtx) Value(key any) any {
	if key == (ctxKey{}) {
		return c
	}
	return c.Context.Value(key)
}

// NewContext returns a copy of ctx that carries s, besides the sessions of
// other Managers ctx already carries (see Manager.FromContext).
func NewContext(ctx context.Context, s *Session) context.Context {
	outer, _ := ctx.Value(ctxKey{}).(*sessionCtx)
	return &sessionCtx{Context: ctx, s: s, outer: outer}
}

// sessions returns the innermost link of ctx's chain of sessions, or nil.
func sessions(ctx context.Context) *sessionCtx {
	c, _ := ctx.Value(ctxKey{}).(*sessionCtx)
	return c
}

// FromContext returns the Session the middleware put in ctx, or nil. Every
// method of a nil Session returns ErrNoSession, so forgetting the middleware
// gives an error, not a panic. When several Managers' middleware wrap a
// handler (an admin session beside a user session), FromContext returns
// the innermost one's: ask each Manager for its own with
// Manager.FromContext.
func FromContext(ctx context.Context) *Session {
	if c := sessions(ctx); c != nil {
		return c.s
	}
	return nil
}

// FromContext returns the Session of m that ctx carries, or nil (whose
// methods return ErrNoSession). Each Manager has its own cookie, so one
// request can carry a session of each: an admin area's session beside the
// user's, each with its own lifetime and store.
func (m *Manager) FromContext(ctx context.Context) *Session {
	for c := sessions(ctx); c != nil; c = c.outer {
		if c.s != nil && c.s.m == m {
			return c.s
		}
	}
	return nil
}

// Get decodes the value stored under key into a T. A missing key gives T's
// zero value and a nil error (use Has to tell them apart); a value that does
// not decode as T gives an error for this key only.
func Get[T any](s *Session, key string) (T, error) {
	var v T
	data, ok, err := s.lookup(key)
	if err != nil || !ok {
		return v, err
	}
	return decode[T](s, key, data)
}

// decode decodes data, the value of key, into a T.
func decode[T any](s *Session, key string, data []byte) (T, error) {
	var v T
	if _, isJSON := s.m.cfg.Codec.(JSON); isJSON && decodePlainJSON(data, &v) {
		return v, nil // a counter or an ID: no allocation, v stays on the stack
	}
	p := new(T) // not &v, which would move v to the heap on the path above too
	if err := s.m.cfg.Codec.Decode(data, p); err != nil {
		return v, fmt.Errorf("session: decode key %q as %T: %w", key, v, err)
	}
	return *p, nil
}

// Has reports whether key holds a value.
func (s *Session) Has(key string) (bool, error) {
	_, ok, err := s.lookup(key)
	return ok, err
}

func (s *Session) lookup(key string) ([]byte, bool, error) {
	if s == nil {
		return nil, false, ErrNoSession
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.loadLocked(); err != nil {
		return nil, false, err
	}
	if v, ok := s.set[key]; ok {
		return v, true, nil
	}
	if _, ok := s.del[key]; ok || s.clear || s.destroy {
		return nil, false, nil
	}
	v, ok := s.storedLocked(key)
	return v, ok, nil
}

// storedLocked returns the value of key as loaded.
func (s *Session) storedLocked(key string) ([]byte, bool) {
	if s.rec.Values == nil {
		return s.vals.get(key)
	}
	v, ok := s.rec.Values[key]
	return v, ok
}

// Set encodes v and stores it under key. An encoding error is returned here,
// not at the end of the request.
func (s *Session) Set(key string, v any) error {
	if s == nil {
		return ErrNoSession
	}
	if err := checkKey(key, MaxKeyLen); err != nil {
		return err
	}
	return s.set1(key, v)
}

// checkKey returns ErrInvalidKey for a key Set, Delete or Flash must
// refuse: empty, longer than max, or in the reserved space.
func checkKey(key string, max int) error {
	switch {
	case key == "" || len(key) > max:
		return fmt.Errorf("%w: %q (want 1 to %d bytes)", ErrInvalidKey, key, max)
	case strings.HasPrefix(key, reservedPrefix):
		return fmt.Errorf("%w: %q starts with a NUL byte, reserved for flash messages and timeouts", ErrInvalidKey, key)
	}
	return nil
}

// set1 encodes v and stores it under key, a key already checked.
func (s *Session) set1(key string, v any) error {
	data, err := s.m.cfg.Codec.Encode(v)
	if err != nil {
		return fmt.Errorf("session: encode key %q: %w", key, err)
	}
	return s.change(func() {
		if s.set == nil {
			s.set = make(map[string][]byte)
		}
		s.set[key] = data
		delete(s.del, key)
	})
}

// Delete removes key.
func (s *Session) Delete(key string) error {
	if s == nil {
		return ErrNoSession
	}
	if strings.HasPrefix(key, reservedPrefix) {
		return checkKey(key, MaxKeyLen)
	}
	return s.change(func() { s.deleteLocked(key) })
}

// deleteLocked records the removal of key in the patch.
func (s *Session) deleteLocked(key string) {
	delete(s.set, key)
	if s.del == nil {
		s.del = make(map[string]struct{})
	}
	s.del[key] = struct{}{}
}

// Clear removes every key; the session, its ID and its own Timeouts stay.
func (s *Session) Clear() error {
	if s == nil {
		return ErrNoSession
	}
	return s.change(func() {
		s.set, s.del, s.clear = s.keepTimeoutsLocked(), nil, true
	})
}

// Renew gives the session a new ID and keeps its data; the old ID stops
// working. Call it when privileges change (login) against session fixation.
func (s *Session) Renew() error {
	if s == nil {
		return ErrNoSession
	}
	return s.change(func() {
		if s.found {
			s.renew = true
			s.id = s.m.newID()
		}
	})
}

// Destroy ends the session: its data is deleted and the cookie expired.
// Changes made after Destroy fail with ErrDestroyed.
func (s *Session) Destroy() error {
	if s == nil {
		return ErrNoSession
	}
	return s.change(func() {
		s.destroy = true
		s.set, s.del, s.clear, s.renew = nil, nil, false, false
	})
}

// change loads the session and runs f under the lock, unless the session
// was already committed or destroyed.
func (s *Session) change(f func()) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.loadLocked(); err != nil {
		return err
	}
	if s.committed {
		s.m.lateChange(s)
		return ErrCommitted
	}
	if s.destroy {
		return ErrDestroyed
	}
	f()
	return nil
}

// Keys returns the session's keys, sorted.
func (s *Session) Keys() ([]string, error) {
	if s == nil {
		return nil, ErrNoSession
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.loadLocked(); err != nil {
		return nil, err
	}
	var keys []string
	if !s.clear && !s.destroy {
		s.storedKeysLocked(func(k string) {
			if _, gone := s.del[k]; !gone {
				if _, dup := s.set[k]; !dup && !strings.HasPrefix(k, reservedPrefix) {
					keys = append(keys, k)
				}
			}
		})
	}
	for k := range s.set {
		if !strings.HasPrefix(k, reservedPrefix) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	return keys, nil
}

// ID returns the session's ID: the stored one, the new one after Renew, or
// the one a new session will be saved under. It is "" when the session could
// not be loaded.
func (s *Session) ID() string {
	if s == nil {
		return ""
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.loadLocked() != nil {
		return ""
	}
	if s.found && !s.renew {
		return s.rec.ID
	}
	return s.id
}

// Loaded reports whether this request used the session (read, changed or
// asked its ID). Only then does the response depend on the cookie, so the
// middleware sends "Vary: Cookie" exactly when Loaded is true.
func (s *Session) Loaded() bool {
	if s == nil {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.loaded
}

// Err returns the error that stopped the session from loading, if any.
func (s *Session) Err() error {
	if s == nil {
		return ErrNoSession
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// loadLocked loads the record on first use.
func (s *Session) loadLocked() error {
	if s.loaded {
		return s.err
	}
	s.loaded = true
	if s.token != "" {
		if s.err = s.loadFirstLocked(); s.err != nil {
			s.err = fmt.Errorf("session: load: %w", s.err)
			return s.err
		}
	}
	if !s.found {
		s.id = s.m.newID()
	}
	return nil
}

// loadFirstLocked loads the first of the presented tokens that names a
// live session and makes it s.token. A store error ends the search: a
// store that is down would only fail again for each token.
func (s *Session) loadFirstLocked() error {
	next := s.rest
	for {
		if err := s.loadRecordLocked(); err != nil {
			return err
		}
		if s.found && s.rec.Expired(s.m.cfg.Now()) {
			s.rec, s.vals, s.found = Record{}, values{}, false
		}
		if err := s.checkRevokedLocked(); err != nil {
			return err
		}
		if s.found || len(next) == 0 {
			return nil
		}
		s.token, next = next[0], next[1:]
	}
}

// loadRecordLocked loads the record of s.token, in binary form when the
// store offers it.
func (s *Session) loadRecordLocked() error {
	bl, ok := s.m.cfg.Store.(BinaryLoader)
	if !ok {
		var err error
		s.rec, s.found, err = s.m.cfg.Store.Load(s.ctx, s.token)
		return err
	}
	data, found, err := bl.LoadBinary(s.ctx, s.token)
	if err != nil || !found {
		return err
	}
	if s.vals, err = s.rec.unmarshalValues(data); err != nil {
		return err
	}
	if s.rec.ID == "" {
		s.rec.ID = s.token
	}
	s.found = true
	return nil
}

// storedKeysLocked calls fn with every key as loaded.
func (s *Session) storedKeysLocked(fn func(string)) {
	if s.rec.Values == nil {
		s.vals.keys(fn)
		return
	}
	for k := range s.rec.Values {
		fn(k)
	}
}

func (s *Session) changedLocked() bool {
	return s.clear || s.renew || len(s.set) > 0 || len(s.del) > 0
}
