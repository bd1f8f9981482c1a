package cookie

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"

	"github.com/sessionmesh/sessionmesh/session"
	"github.com/sessionmesh/sessionmesh/stores/internal/aead"
)

// MaxCookieBytes is the largest "name=value" a Save produces: what browsers
// keep of one cookie.
const MaxCookieBytes = 4096

// Errors returned by this package. Check them with errors.Is.
var (
	// ErrCookieTooLarge is returned by Save when the sealed session would
	// make a cookie over MaxCookieBytes. It wraps session.ErrTooLarge.
	ErrCookieTooLarge = fmt.Errorf("cookie: session cookie over %d bytes: %w", MaxCookieBytes, session.ErrTooLarge)

	// ErrInvalidKey is returned for a key with a bad ID or a secret that is
	// not exactly 32 bytes.
	ErrInvalidKey = aead.ErrInvalidKey

	// ErrInvalidID is returned by Save when a patch's NewID is not a
	// well-formed session ID (see session.ValidID).
	ErrInvalidID = errors.New("cookie: invalid session ID")
)

// tagSize is the length of the envelope's GCM tag.
const tagSize = aead.TagSize

// encoding is strict so that every envelope has exactly one token: a token
// with its padding bits changed is another, unknown token.
var encoding = base64.RawURLEncoding.Strict()

// Store is the cookie session store. It implements session.Store and is safe
// for concurrent use.
type Store struct {
	cfg  Config
	keys *aead.Keys // the first seals, every one opens
	ad   []byte     // the associated data every cookie binds: the cookie name
}

// New validates cfg, fills in defaults and returns a Store.
func New(cfg Config) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.setDefaults()
	keys, err := aead.New(cfg.Keys)
	if err != nil {
		return nil, fmt.Errorf("cookie: %w", err)
	}
	cfg.Keys = nil // the copies of the secrets live in keys only
	return &Store{cfg: cfg, keys: keys, ad: []byte(cfg.CookieName)}, nil
}

// Load implements session.Store: any token that does not open loads as not
// found with a nil error.
func (s *Store) Load(_ context.Context, token string) (session.Record, bool, error) {
	rec, err := s.open(token)
	if err != nil {
		return session.Record{}, false, nil
	}
	return rec, true, nil
}

// Save implements session.Store: it opens token (one that does not open
// fails with session.ErrNotFound), applies p and seals the result with the
// first key. The returned token is the new cookie value.
func (s *Store) Save(_ context.Context, token string, p session.Patch) (string, error) {
	var rec session.Record
	switch {
	case token != "":
		var err error
		if rec, err = s.open(token); err != nil {
			return "", fmt.Errorf("cookie: save: %w: %v", session.ErrNotFound, err)
		}
		if p.NewID != "" && !session.ValidID(p.NewID) {
			return "", fmt.Errorf("cookie: save: %w: renewed session ID %.50q", ErrInvalidID, p.NewID)
		}
	case !session.ValidID(p.NewID):
		return "", fmt.Errorf("cookie: save: %w: new session ID %.50q", ErrInvalidID, p.NewID)
	}
	p.Apply(&rec)
	newToken, err := s.seal(&rec)
	if err != nil {
		return "", fmt.Errorf("cookie: save: %w", err)
	}
	return newToken, nil
}

// Delete implements session.Store. It does nothing: a cookie store keeps no
// state to delete, and cannot revoke a cookie a client still holds (see the
// package doc). The Manager expires the cookie in the browser.
func (s *Store) Delete(context.Context, string) error { return nil }
