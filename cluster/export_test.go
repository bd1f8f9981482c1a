package cluster

import (
	"time"

	"github.com/sessionmesh/sessionmesh/session"
)

// Pause makes the node's heartbeat look as if the process had been
// stopped for d (SIGSTOP): the next heartbeat or request finds the gap.
func (s *Store) Pause(d time.Duration) { s.lastBeat.Add(-int64(d)) }

// Backdate makes every member this node knows look as if it had been a
// member for d longer than it has (memberFor, what a pause check asks).
func (s *Store) Backdate(d time.Duration) {
	s.members.mu.Lock()
	defer s.members.mu.Unlock()
	for name, at := range s.members.added {
		s.members.added[name] = at - d
	}
}

// LogProgressEveryBatch makes hand-offs log their progress after every
// batch until the returned func restores the interval.
func LogProgressEveryBatch() (restore func()) {
	old := progressEvery.Swap(0)
	return func() { progressEvery.Store(old) }
}

// Sweep removes the node's expired copies now, as its engine's sweeper
// does every minute, and returns how many it removed.
func (s *Store) Sweep() int { return s.engine.Sweep() }

// Copy returns this node's own copy of session id (tombstones included),
// without asking any other node and without counting as a use.
func (s *Store) Copy(id string) (session.Record, bool) {
	data, ok := s.engine.Peek(id)
	if !ok {
		return session.Record{}, false
	}
	rec, err := decodeFound(id, data)
	return rec, err == nil
}
