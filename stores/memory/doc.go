// Package memory is the in-process session store: the store of a single
// worker (or of several behind a sticky balancer that accept losing
// sessions when a worker stops). Sessions live in the process's memory as
// their compact binary form, in a sharded map whose pages mostly sit
// outside the Go heap, so a million sessions cost the garbage collector
// next to nothing; package internal/engine describes the layout.
//
// Saves apply the patch to the stored bytes under the session's shard
// lock, so concurrent patches to different keys of one session all
// survive. Renew holds the locks of both the old and the new ID's shards,
// so a concurrent patch on the old ID either lands before the move (and
// moves with it) or fails with session.ErrNotFound.
//
// # Expiry
//
// Expiry is lazy on read (an expired session is removed when it is looked
// up) plus a background sweeper that removes expired sessions every
// Config.SweepInterval. Close stops the sweeper and waits for it.
//
// # When full
//
// With Config.MaxSessions or Config.MaxBytes set, a write that takes the
// store over its bound evicts sessions until it is within it again: from
// the shard being written, it samples a few sessions and evicts the one
// with the earliest deadline (an expired one first), like Redis's
// volatile-ttl. The session being written is never evicted. Evictions are
// counted in Stats.Evictions.
//
// To share sessions between workers without an extra server, give the
// memory store a cluster block in config (package cluster).
package memory
