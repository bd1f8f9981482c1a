package cluster

import "time"

// Pause makes the node's heartbeat look as if the process had been
// stopped for d (SIGSTOP): the next heartbeat or request finds the gap.
func (s *Store) Pause(d time.Duration) { s.lastBeat.Add(-int64(d)) }
