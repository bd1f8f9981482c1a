package session

import "context"

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
// returns an error wrapping ctx.Err().
type Store interface {
	Load(ctx context.Context, token string) (rec Record, found bool, err error)
	Save(ctx context.Context, token string, p Patch) (newToken string, err error)
	Delete(ctx context.Context, token string) error
}
