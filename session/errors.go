package session

import (
	"errors"
	"fmt"
)

// Errors returned by this package and by stores. Check them with errors.Is:
// stores wrap them with context.
var (
	// ErrNotFound is returned by Store.Save when the session named by the
	// token no longer exists (it expired, or a concurrent request destroyed
	// or renewed it). The patch is dropped; the client gets no cookie.
	ErrNotFound = errors.New("session: not found")

	// ErrTooLarge is returned when a session would exceed the store's size
	// limit. Nothing is written; the stored session is unchanged.
	ErrTooLarge = errors.New("session: too large")

	// ErrCommitted is returned by a change made after the session was saved
	// (after the response started). The change is not stored.
	ErrCommitted = errors.New("session: changed after the response started")

	// ErrDestroyed is returned by a change made after Destroy.
	ErrDestroyed = errors.New("session: destroyed")

	// ErrInvalidConfig is wrapped by Config.Validate errors: this
	// package's, and those of every store, of the cluster and of its peer
	// transport. It is the module's one sentinel for a bad config.
	ErrInvalidConfig = errors.New("session: invalid config")

	// ErrInvalidKey is returned by Set for an empty key or one longer than
	// MaxKeyLen bytes.
	ErrInvalidKey = errors.New("session: invalid key")

	// ErrInvalidPrincipal is returned by SetPrincipal and RevokePrincipal
	// for a principal longer than MaxPrincipalLen bytes (or, to
	// RevokePrincipal, empty).
	ErrInvalidPrincipal = errors.New("session: invalid principal")

	// ErrFull is returned by Store.Save for a new session when the store
	// is at its memory bound and could make room only by evicting
	// sessions in use (it evicts those never used again after their first
	// request, and expired ones, first). Nothing is written; the
	// middleware answers 503: a flood of new sessions is refused rather
	// than logging the users who come back out.
	ErrFull = errors.New("session: store full")

	// ErrClosed is returned by a store that has been closed.
	ErrClosed = errors.New("session: store closed")
)

// FieldError is one Config field out of range: Config.Validate and
// CookieConfig.Validate join one per problem. It wraps ErrInvalidConfig.
type FieldError struct {
	Field string // Go name: "CookieName", "Cookie.Secure"
	Rule  string // what is wrong and what is allowed
}

func (e *FieldError) Error() string {
	return fmt.Sprintf("%v: %s %s", ErrInvalidConfig, e.Field, e.Rule)
}

// Unwrap returns ErrInvalidConfig.
func (e *FieldError) Unwrap() error { return ErrInvalidConfig }
