// Package memory is the in-process session store: a sharded map from session
// ID to the session's compact binary form. It is the store of a single worker
// and the engine each cluster node keeps its partitions in.
//
// # Model
//
// The map is split into Config.Shards parts, each with its own mutex, so
// requests for different sessions rarely wait for each other. Each session is
// kept as one []byte (session.Record.AppendBinary) plus its deadline and
// version in a small struct value, and the map key is a string that shares
// those bytes: no per-session Go map of interfaces and one allocation per
// session, which keeps the heap small and the garbage collector's work low
// with a million sessions. Stored bytes are never changed in place, so a
// reader decodes them after releasing the lock.
//
// A patch (Save) is decoded, applied and re-encoded under its shard's lock,
// so concurrent patches to different keys of one session all survive. Renew
// holds the locks of both the old and the new ID's shards, so a concurrent
// patch on the old ID either lands before the move (and moves with it) or
// fails with session.ErrNotFound.
//
// # Expiry
//
// Expiry is lazy on read (an expired session is removed when it is looked up)
// plus a background sweeper that removes expired sessions every
// Config.SweepInterval. Close stops the sweeper and waits for it.
//
// # When full
//
// With Config.MaxSessions or Config.MaxBytes set, a write that takes the
// store over its bound evicts sessions until it is within it again: from the
// shard being written, it samples a few sessions and evicts the one with the
// earliest deadline (an expired one first), like Redis's volatile-ttl. When
// that shard has nothing else to give, the other shards are trimmed the same
// way. The session being written is never evicted.
//
// The policy is chosen because a memory bound must never refuse a login: a
// full store that rejected writes would lock new users out of the site, while
// the sessions evicted are the ones closest to expiring anyway (the least
// recently active, or those near their absolute lifetime). Sampling instead
// of keeping an ordered index costs no memory per session and no work on
// reads. Evictions are counted in Stats.Evictions so an operator can see that
// the bound is too small.
package memory
