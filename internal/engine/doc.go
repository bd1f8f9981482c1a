// Package engine keeps session records in memory: a sharded map from
// session ID to the record's compact binary form, with expiry, bounds and
// eviction. It is the storage of stores/memory (the single-process store)
// and of every cluster node; it is not public API. What a stored copy
// means (which of two copies is newer, what a tombstone is) is the
// caller's business: the Map stores what it is told, under the session's
// lock when the caller's rule needs it (Update, PutIf).
//
// # Model
//
// The store is split into Config.Shards parts, each with its own mutex, so
// requests for different sessions rarely wait for each other. A shard keeps
// each session as its compact binary form (session.Record.AppendBinary,
// without the ID) in a slot of a slab, next to the session's ID decoded to
// its 32 bytes, and an index from a 64-bit hash of the ID (maphash, with a
// seed of the Map's) to the slot: an open-addressing table of 8-byte
// entries. A lookup compares the full ID in the slot, so IDs whose hashes
// collide are told apart. Neither holds a Go pointer per session, so with
// a million sessions the garbage collector has a few thousand objects to
// look at instead of millions, and a rewritten session reuses its slot
// instead of leaving garbage.
//
// The slab's pages are 64 KiB of slots of one size class (classes 16 bytes
// or an eighth apart), and the index's tables are mapped the same way: on
// unix both come from the operating system, outside the Go heap. That is
// what keeps the memory of a large store near its size: the Go runtime lets
// its heap grow to twice the live heap between collections (GOGC=100), so a
// million ~200-byte sessions held in the heap cost about twice their bytes
// in RSS, while memory outside it costs them once (a million typical
// sessions: 208 MB of slots and 11 MB of index, see BENCHMARKS.md).
// (Consequently GOMEMLIMIT does not see them: when you set one, leave room
// for Stats().Bytes.) A session larger than the largest class (16 KiB) gets
// a page of its own in the Go heap. Sessions that grow or shrink move between
// classes and leave holes; a class that is more than an eighth empty is
// compacted under its shard's lock (its emptiest pages are emptied into the
// holes of the others and given back), so the pages held stay within about
// an eighth of the slots used. Pages go back to the operating system when
// they empty, an index table shrinks when fewer than 16% of its slots are
// in use, and all of them go back once the Map is unreachable (the engine
// methods work after Close, so Close cannot free them).
//
// Stored bytes are changed in place, so every read copies (decodes) them
// under the shard's lock. A patch (Save) is applied to the stored bytes
// directly (session.Patch.ApplyBinary) under that lock, so concurrent
// patches to different keys of one session all survive, and a counter patch
// allocates nothing. Renew holds the locks of both the old and the new ID's
// shards, so a concurrent patch on the old ID either lands before the move
// (and moves with it) or fails with session.ErrNotFound.
//
// # Expiry
//
// Expiry is lazy on read (an expired session is removed when it is looked up)
// plus a background sweeper that removes expired sessions every
// Config.SweepInterval. Close stops the sweeper and waits for it.
//
// # When full
//
// Config.MaxBytes (256 MiB by default) and Config.MaxSessions bound the
// store. A write that takes it over a bound evicts sessions until it is
// within it again: from the shard being written, it samples a few
// sessions and evicts, among those that may go, the one with the earliest
// deadline (the sample starts at a random entry of the index); when that
// shard has nothing to give, the other shards are trimmed the same way. The session being written is never evicted.
//
// A session may go when it has expired, or when it was never used again
// after the request that created it: every read of a request
// (LoadBinary) and every patch marks a session as used, in a bit of its
// slot. A flood of anonymous requests, each creating a session its client
// never sends back, then displaces itself, and the users who come back
// keep theirs (the audit's flood test: 500 users kept 496 evictions of
// their sessions under earliest-deadline-first; they keep all now). When
// only sessions in use are left, a new session is refused with
// session.ErrFull (a 503 for that request) rather than an active user
// logged out; writes to existing sessions are never refused, and may take
// the store over its bound by their growth. Sampling instead of keeping an
// ordered index costs no memory per session and no work on reads.
// Evictions and refusals are counted in Stats so an operator can see that
// the bound is too small.
package engine
