package memcache

import (
	"time"

	"github.com/sessionmesh/sessionmesh/session"
)

// avoidFor is how long new session IDs avoid a server after a call to it
// failed. When it has passed, the next new session that falls on the
// server tries it again: one request (a 503) per avoidFor finds out whether
// it is back, and no goroutine probes in the background.
const avoidFor = 5 * time.Second

// maxDraws bounds the IDs NewID draws looking for a healthy server. With
// two of three servers failed, a draw falls on the third one time in three,
// so 32 draws miss it about once in 400,000 calls; that call gets any ID.
const maxDraws = 32

var _ session.IDGenerator = (*Store)(nil)

// NewID implements session.IDGenerator, so a Manager over this Store takes
// the IDs of new and renewed sessions from here: a fresh session.NewID
// whose server has not failed a call in the last avoidFor (5s). While one
// server of N is down, new sessions are therefore created on the others
// instead of failing; the sessions already on it fail (503) until it is
// back, and are lost if it restarted. An ID is uniform over the IDs whose
// servers are up: with only one server of N up (its share of the ring is
// at least 0.85/N), it keeps at least 255-log2(N) of its 256 random bits.
func (s *Store) NewID() string {
	for range maxDraws {
		id := session.NewID()
		if !s.avoided(s.ring.server(s.key(id))) {
			return id
		}
	}
	return session.NewID()
}

// markFailed records that a call to server i failed just now.
func (s *Store) markFailed(i int) { s.failed[i].Store(s.wall().UnixNano()) }

// avoided reports whether server i failed a call in the last avoidFor.
func (s *Store) avoided(i int) bool {
	at := s.failed[i].Load()
	return at != 0 && s.wall().Sub(time.Unix(0, at)) < avoidFor
}
