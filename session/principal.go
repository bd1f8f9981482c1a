package session

import (
	"fmt"
	"strconv"
	"strings"
)

// The principal is the logged-in user of a session (SetPrincipal). Like
// flashes (flash.go) it lives in the session as a value under a key of its
// own, so that every store keeps it with no change to its format, Renew
// keeps it, and Clear and Destroy drop it. The value records, besides the
// principal, the generation the Revoker gave when it was set (revoke.go):
// "GEN:PRINCIPAL" as plain bytes, not through the Manager's Codec, so that
// a store can index sessions by principal (index.go: PrincipalOf,
// BinaryPrincipal, Patch.Principal) without knowing the Codec, on every
// copy it holds. Sessions written before the value was plain hold it
// encoded by the Codec as a JSON string: the Manager still reads those
// (decodePrincipal), but stores do not index them until SetPrincipal is
// called again.

// principalKey is the stored key of the principal: in the reserved space
// (flash.go), so Set and Delete refuse it and Keys hides it.
const principalKey = reservedPrefix + "principal\x00"

// MaxPrincipalLen is the longest principal SetPrincipal accepts, in bytes.
const MaxPrincipalLen = 256

// SetPrincipal records p, the user who logged in, on the session; "" makes
// it anonymous again. With Config.Revoker it records p's current
// generation too (one lookup, with the request's ctx), so that
// Manager.RevokePrincipal(ctx, p) ends this session, and every copy of its
// cookie, at its next request. Call Renew at login as well: SetPrincipal
// does not change the ID. The principal is kept across Renew and dropped by
// Clear and Destroy. A Revoker error is returned and nothing is recorded.
func (s *Session) SetPrincipal(p string) error {
	if s == nil {
		return ErrNoSession
	}
	if len(p) > MaxPrincipalLen {
		return fmt.Errorf("%w: %d bytes (want at most %d)", ErrInvalidPrincipal, len(p), MaxPrincipalLen)
	}
	if p == "" {
		return s.change(func() { s.deleteLocked(principalKey) })
	}
	// Load first: a session that cannot load or change costs no lookup.
	if err := s.change(func() {}); err != nil {
		return err
	}
	gen, err := s.m.freshGeneration(s.ctx, p)
	if err != nil {
		return fmt.Errorf("session: set principal: %w", err)
	}
	value := []byte(strconv.FormatUint(gen, 10) + ":" + p)
	return s.change(func() {
		if s.set == nil {
			s.set = make(map[string][]byte)
		}
		s.set[principalKey] = value
		delete(s.del, principalKey)
	})
}

// Principal returns the session's principal, "" when it has none.
func (s *Session) Principal() (string, error) {
	if s == nil {
		return "", ErrNoSession
	}
	data, ok, err := s.lookup(principalKey)
	if err != nil || !ok {
		return "", err
	}
	p, _, err := s.m.decodePrincipal(data)
	return p, err
}

// storedPrincipalLocked is principal for the record as loaded, with s.mu
// held.
func (s *Session) storedPrincipalLocked() (string, uint64, error) {
	data, ok := s.storedLocked(principalKey)
	if !ok {
		return "", 0, nil
	}
	return s.m.decodePrincipal(data)
}

// decodePrincipal decodes the stored value of principalKey. A value that
// does not decode is an error: a session whose principal cannot be read
// must not pass as anonymous, nor as not revoked. The error does not quote
// the value, which names a user.
func (m *Manager) decodePrincipal(data []byte) (string, uint64, error) {
	if p, gen, ok := parsePrincipal(string(data)); ok {
		return p, gen, nil
	}
	var v string // a session written before the value was plain
	if err := m.cfg.Codec.Decode(data, &v); err == nil {
		if p, gen, ok := parsePrincipal(v); ok {
			return p, gen, nil
		}
	}
	return "", 0, fmt.Errorf("session: the stored principal (%d bytes) does not decode as \"GENERATION:PRINCIPAL\"", len(data))
}

// parsePrincipal splits v, "GEN:PRINCIPAL", into its parts; ok is false
// when v is not of that form (GEN decimal digits only).
func parsePrincipal(v string) (p string, gen uint64, ok bool) {
	g, p, found := strings.Cut(v, ":")
	if !found || g == "" || g[0] < '0' || g[0] > '9' {
		return "", 0, false
	}
	n, err := strconv.ParseUint(g, 10, 64)
	return p, n, err == nil
}
