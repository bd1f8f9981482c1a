package session

import (
	"context"
	"fmt"
	"time"
)

// Store keeps sessions. Implementations must be safe for concurrent use.
//
// The contract, which stores/storetest checks for every store:
//
//   - Load returns the record named by token. A missing, expired, malformed,
//     oversized or tampered token loads as found=false with a nil error:
//     errors are for system failures only (a server that does not answer).
//     A store never looks up a token that is not a well-formed ID (ValidID)
//     when its tokens are IDs.
//   - Save applies p (see Patch.Apply) atomically to the newest stored record
//     and returns the token to send to the client. An empty token creates a
//     session under p.NewID. A non-empty token whose session is gone fails with
//     ErrNotFound and writes nothing: Destroy and Renew win over a concurrent
//     patch. With p.NewID set and a non-empty token the session moves to the
//     new ID in one step and the old token stops loading. A session that would
//     exceed the store's size limit fails with an error wrapping ErrTooLarge
//     and leaves the stored session unchanged.
//   - Delete removes the session; deleting a missing session is not an error.
//
// ctx bounds every call: a store that cannot answer before ctx is done
// returns an error wrapping ctx.Err(). A store that applies a write away
// from the caller (the cluster store, at a session's primary) checks the
// deadline there too (CheckDeadline): a write never lands after its
// request's deadline, so a client that gave up and retried elsewhere
// cannot have its retry overwritten by the request it abandoned.
type Store interface {
	Load(ctx context.Context, token string) (rec Record, found bool, err error)
	Save(ctx context.Context, token string, p Patch) (newToken string, err error)
	Delete(ctx context.Context, token string) error
}

// BinaryLoader is an optional interface for stores that keep each record in
// its binary form (Record.AppendBinary), as the memory store does. A
// Session loads through it when the store has it and reads values straight
// from the bytes, instead of every request building a map of them.
type BinaryLoader interface {
	// LoadBinary is Load returning the record in binary form, under the
	// same contract. data is the caller's to keep. An empty ID in it stands
	// for the token (a store that indexes records by ID need not repeat it).
	LoadBinary(ctx context.Context, token string) (data []byte, found bool, err error)
}

// IDGenerator is an optional interface for stores that choose where a new
// session lives. A Manager whose store has it takes the IDs of new and
// renewed sessions from it instead of NewID. The cluster store mints IDs
// whose partition the serving node is primary of, so that behind a sticky
// balancer a session lives where it is served.
type IDGenerator interface {
	// NewID returns a fresh ID that ValidID accepts, with at least 240
	// bits from crypto/rand that an attacker cannot guess or narrow down.
	// It is safe for concurrent use.
	NewID() string
}

// CheckDeadline returns an error wrapping context.DeadlineExceeded when
// ctx's deadline has passed, even if ctx's timer has not fired yet (a
// process that was paused sees the clock jump before its timers run).
// The Manager checks it before every save and delete; stores that apply
// writes elsewhere check it where they apply them.
func CheckDeadline(ctx context.Context) error {
	if dl, ok := ctx.Deadline(); ok {
		if late := time.Since(dl); late >= 0 {
			return fmt.Errorf("the request's deadline passed %v ago; nothing written: %w", late.Round(time.Millisecond), context.DeadlineExceeded)
		}
	}
	return nil
}
