package memory

import "errors"

// Errors returned by Save besides those of the session package
// (session.ErrNotFound, session.ErrTooLarge, session.ErrClosed). Nothing is
// written when they are returned.
var (
	// ErrInvalidID is returned when a patch's NewID is not a well-formed
	// session ID (see session.ValidID).
	ErrInvalidID = errors.New("memory: invalid session ID")

	// ErrIDInUse is returned when a new or renewed session's ID already
	// names a live session. With IDs from session.NewID it does not happen.
	ErrIDInUse = errors.New("memory: session ID already in use")
)
