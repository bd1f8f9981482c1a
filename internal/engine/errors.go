package engine

import "errors"

// Errors returned by the writes besides those of the session package
// (session.ErrNotFound, session.ErrTooLarge). Nothing is written when they
// are returned. stores/memory returns them as they are.
var (
	// ErrInvalidID is returned when a patch's NewID is not a well-formed
	// session ID (see session.ValidID).
	ErrInvalidID = errors.New("invalid session ID")

	// ErrIDInUse is returned when a new or renewed session's ID already
	// names a live session. With IDs from session.NewID it does not happen.
	ErrIDInUse = errors.New("session ID already in use")
)
