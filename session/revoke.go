package session

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// Revoker keeps a generation number per principal, so that sessions can
// be ended where the server cannot reach them: the cookie store's sessions
// live in the browser, and a copy of a cookie (stolen, or kept by another
// device) opens until its deadline even after Destroy. A session records
// its principal's generation when SetPrincipal is called; every later
// load of it asks the Revoker for the current one, and a session whose
// generation is not the current one has ended (it loads as not found,
// like an expired one). Revoke moves the generation on: every session of
// the principal, on every store, every copy of every cookie, ends at its
// next request.
//
// The contract:
//
//   - Generation returns the principal's current generation; one never
//     revoked has one too (0, or an epoch: see memory.Revoker).
//   - Revoke moves it to a generation the principal never had before and
//     returns it. A Revoker must never give a principal an old generation
//     again, even after a restart or a lost key: a session recorded at
//     that generation would open again. (The Manager compares for
//     equality, not order, so a Revoker that loses its state ends every
//     session that recorded a generation, rather than reviving revoked
//     ones, as long as it does not hand out the old numbers again.)
//   - An error is a system failure (the server did not answer); the
//     Manager then fails the request (503 through httpmw), never lets the
//     session through.
//
// Implementations must be safe for concurrent use. stores/redis.Revoker
// keeps the generations in Redis (several workers), stores/memory.Revoker
// in the process (one worker, tests).
type Revoker interface {
	Generation(ctx context.Context, principal string) (uint64, error)
	Revoke(ctx context.Context, principal string) (uint64, error)
}

// RevokePrincipal ends every session of principal (a password change, "log
// out everywhere", an admin's kill), on every store, at each session's next
// request: it moves principal's generation on in Config.Revoker. This
// Manager sees it at once; other workers' Managers within their
// RevokerCache. Without a Revoker it fails with errors.ErrUnsupported.
func (m *Manager) RevokePrincipal(ctx context.Context, principal string) error {
	if m.cfg.Revoker == nil {
		return fmt.Errorf("session: RevokePrincipal needs Config.Revoker: %w", errors.ErrUnsupported)
	}
	if principal == "" || len(principal) > MaxPrincipalLen {
		// The length only: a principal is often an e-mail address.
		return fmt.Errorf("%w: %d bytes (want 1 to %d)", ErrInvalidPrincipal, len(principal), MaxPrincipalLen)
	}
	gen, err := m.cfg.Revoker.Revoke(ctx, principal)
	if err != nil {
		return fmt.Errorf("session: revoke principal: %w", err)
	}
	m.gens.revoked(principal, gen, m.cfg.Now())
	return nil
}

// freshGeneration is principal's generation asked of the Revoker, not the
// cache (0 without a Revoker): SetPrincipal records it, and a cached one
// that is already old would end the new session at once elsewhere.
func (m *Manager) freshGeneration(ctx context.Context, principal string) (uint64, error) {
	if m.cfg.Revoker == nil {
		return 0, nil
	}
	asked := m.cfg.Now()
	gen, err := m.cfg.Revoker.Generation(ctx, principal)
	if err != nil {
		return 0, err
	}
	m.gens.put(principal, gen, asked)
	return gen, nil
}

// current reports whether gen is principal's current generation. The cache
// answers only a match: a session whose generation differs from the cached
// one asks the Revoker, since it may have been recorded after the cache
// was filled (a login on another worker after a revoke).
func (m *Manager) current(ctx context.Context, principal string, gen uint64) (bool, error) {
	if cached, ok := m.gens.get(principal, m.cfg.Now()); ok && cached == gen {
		return true, nil
	}
	now, err := m.freshGeneration(ctx, principal)
	return now == gen, err
}

// checkRevokedLocked makes a loaded session that records an old generation
// not found, as an expired one is (Session.loadFirstLocked). It costs
// nothing without a Revoker, and no lookup for a session without a
// principal.
func (s *Session) checkRevokedLocked() error {
	if !s.found || s.m.cfg.Revoker == nil {
		return nil
	}
	p, gen, err := s.storedPrincipalLocked()
	switch {
	case err != nil:
		// Not readable, so not provably current: ended, not a 503 for ever.
		s.m.cfg.Logger.Warn("session: ended: its principal cannot be read", "err", err)
	case p == "":
		return nil
	default:
		ok, err := s.m.current(s.ctx, p, gen)
		if err != nil {
			return fmt.Errorf("revoker: %w", err)
		}
		if ok {
			return nil
		}
	}
	s.rec, s.vals, s.found = Record{}, values{}, false
	return nil
}

// revokeOnDestroyLocked revokes the principal of s, a stored session being
// destroyed, when Config.RevokeOnDestroy asks for it.
func (m *Manager) revokeOnDestroyLocked(s *Session) error {
	if !m.cfg.RevokeOnDestroy || !s.found {
		return nil
	}
	p, _, err := s.storedPrincipalLocked()
	if err != nil || p == "" {
		return err
	}
	return m.RevokePrincipal(s.ctx, p)
}

// genCache remembers generations the Revoker gave, for Config.RevokerCache.
// A nil *genCache (RevokerCache 0) remembers nothing.
type genCache struct {
	ttl time.Duration

	mu   sync.Mutex // guards gens
	gens map[string]cachedGen
}

type cachedGen struct {
	gen     uint64
	at      time.Time // when the Revoker was asked for it
	revoked bool      // it is what this Manager's RevokePrincipal set at
}

// maxCachedGens bounds the cache: at the bound, entries older than ttl are
// dropped, and if that frees nothing, all are.
const maxCachedGens = 1 << 16

func newGenCache(ttl time.Duration) *genCache {
	if ttl <= 0 {
		return nil
	}
	return &genCache{ttl: ttl, gens: make(map[string]cachedGen)}
}

func (c *genCache) get(principal string, now time.Time) (uint64, bool) {
	if c == nil {
		return 0, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.gens[principal]
	if !ok || now.Sub(e.at) >= c.ttl {
		return 0, false
	}
	return e.gen, true
}

// put caches gen, which the Revoker gave for a lookup started at asked.
// A lookup that started before this Manager's last revoke of principal
// finished may have read the generation the revoke ended: it must not
// replace the revoke's (revoked), or the revoked sessions would load here
// for a whole RevokerCache.
func (c *genCache) put(principal string, gen uint64, asked time.Time) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.gens[principal]; ok && e.revoked && !e.at.Before(asked) {
		return
	}
	c.setLocked(principal, cachedGen{gen: gen, at: asked})
}

// revoked caches gen, the generation RevokePrincipal set at now.
func (c *genCache) revoked(principal string, gen uint64, now time.Time) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.setLocked(principal, cachedGen{gen: gen, at: now, revoked: true})
}

func (c *genCache) setLocked(principal string, e cachedGen) {
	now := e.at
	if _, ok := c.gens[principal]; !ok && len(c.gens) >= maxCachedGens {
		for p, e := range c.gens {
			if now.Sub(e.at) >= c.ttl {
				delete(c.gens, p)
			}
		}
		if len(c.gens) >= maxCachedGens {
			clear(c.gens)
		}
	}
	c.gens[principal] = e
}
