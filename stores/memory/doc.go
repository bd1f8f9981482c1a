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
// The Store is a session.EventSource: each session it removes on its own,
// expired (by a read, the sweeper or an eviction) or evicted at a bound,
// is reported once, so a Manager with Config.OnEvent logs it.
//
// # A user's sessions
//
// The Store is a session.PrincipalIndex: each shard keeps the sessions of
// each principal (read from the session's value, session.BinaryPrincipal)
// beside the sessions, updated under the shard's lock by every write,
// renew, delete, expiry and eviction, so Manager.Sessions and
// DestroyPrincipal read only the user's sessions and the index holds
// nothing of a session that is gone. A save whose patch leaves the
// principal costs the index nothing. It is a session.Counter too.
//
// # When full
//
// The store is bounded: Config.MaxBytes (256 MiB by default) and
// Config.MaxSessions. At a bound it evicts expired sessions and sessions
// never used again after the request that created them; a new session
// that would need evicting a session in use is refused with
// session.ErrFull (the middleware answers 503). A flood of anonymous
// requests cannot take the process down, nor log the users who come back
// out. Evictions and refusals are counted in Stats; the details are in
// package internal/engine.
//
// To share sessions between workers without an extra server, give the
// memory store a cluster block in config (package cluster).
//
// Revoker is a session.Revoker in the process, for one worker and for
// tests: several workers need one shared Revoker (package redis has one).
package memory
