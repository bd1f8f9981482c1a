package memory

import (
	"context"
	"sync"
	"time"

	"github.com/sessionmesh/sessionmesh/session"
)

// Revoker keeps the generation of each principal (session.Revoker) in the
// process: for one worker, and for tests. Several workers each with their
// own Revoker disagree on every generation, so a session recorded on one
// ends on the next: use stores/redis.Revoker there.
//
// A principal never revoked is at the Revoker's epoch, the time it was made
// in nanoseconds, not at 0: the generations of a restarted process are
// none that the previous one gave, so a restart ends every session with a
// principal (which a memory store loses anyway) instead of reviving the
// copies of cookies revoked before it.
type Revoker struct {
	epoch uint64

	mu   sync.Mutex        // guards gens
	gens map[string]uint64 // revoked principals; the others are at epoch
}

var _ session.Revoker = (*Revoker)(nil)

// NewRevoker returns a Revoker with no principal revoked.
func NewRevoker() *Revoker {
	return &Revoker{epoch: uint64(time.Now().UnixNano()), gens: make(map[string]uint64)}
}

// Generation implements session.Revoker.
func (r *Revoker) Generation(_ context.Context, principal string) (uint64, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.genLocked(principal), nil
}

// Revoke implements session.Revoker. Each revoked principal costs an entry
// for the life of the process.
func (r *Revoker) Revoke(_ context.Context, principal string) (uint64, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	gen := r.genLocked(principal) + 1
	r.gens[principal] = gen
	return gen, nil
}

func (r *Revoker) genLocked(principal string) uint64 {
	if gen, ok := r.gens[principal]; ok {
		return gen
	}
	return r.epoch
}
