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
