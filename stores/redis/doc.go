// Package redis keeps sessions in Redis: a single server, a master found
// through Redis Sentinel, or a Redis Cluster, through one go-redis
// UniversalClient, with username/password (requirepass or ACL) and TLS.
//
// # Layout
//
// Each session is one hash under Prefix+ID (Prefix is Geddy's "ns", default
// "sess:"). Every session key is a field "v:<key>" holding the encoded value
// as the Manager made it (JSON by default, so other languages can read it, as
// with Geddy's Redis store; sealed with Config.Keys, see below); the
// metadata fields are id, created, touched, idle, expires (Unix nanoseconds
// in decimal, 0 for none), version and size (the length of all keys and
// values as stored). The "v:" prefix keeps a user's key
// from ever colliding with a metadata field. A session with a principal
// has one more, principal, naming its principal's set (below).
// The key's TTL runs to the session's deadline, so Redis frees it by itself;
// Load also checks the deadline against Config.Now, so expiry does not
// depend on the server's clock.
//
// # Sealing at rest
//
// With Config.Keys set, every value is sealed before it leaves the process
// with the cookie store's AEAD (AES-256-GCM with key IDs; the first key
// seals, every key opens, so keys rotate the same way): RDB and AOF files,
// their backups, replicas and captures of the connection hold ciphertext
// where the values were. The metadata fields stay in the clear, because the
// scripts read them (deadlines, version, size), and so do the session keys'
// names (the "v:<key>" fields) and the session ID in the Redis key.
//
// Each value is bound to its key's name, not to the session: renewScript
// moves a session's values to the new ID inside Redis in one atomic step,
// where nothing can re-seal them, and that atomic renew is kept. So a value
// moved to another key of its session does not open, but a value copied to
// the same key of another session, by someone who can write to Redis, opens
// there. Sealing protects the confidentiality of what Redis holds and
// sends, not its integrity against a writer, who can delete or rewrite
// sessions anyway: keep Redis behind ACLs and TLS as well. A writer cannot
// make up a value without a key, nor store one in the clear: with Keys set,
// every value must open.
//
// A value that does not open (sealed with a key no longer in Config.Keys,
// stored before sealing was turned on, changed in the server) makes Load
// fail with ErrCannotOpen, naming the session and the key but not the
// value: the request gets the store's error (503), not a fresh session,
// because a key left out of the config by mistake would otherwise silently
// log every user out and drop their data. To turn sealing on for a Redis
// that holds sessions, use a new Prefix (or delete the old keys): its users
// sign in again once, and the old keys expire by their TTL. A store without
// Keys does not look for envelopes: it returns a sealed value as it is, and
// the Manager's codec then fails to decode that key.
//
// Sealing costs about 1 µs of CPU per value sealed or opened (at most 5 µs
// per load and save of a 200-byte session of five values), and 30 bytes
// plus the key ID's length per value, which MaxSessionBytes counts
// (BENCHMARKS.md).
//
// # One round trip each
//
// Load is one HGETALL. Every save is one Lua script (EVALSHA, falling back
// to EVAL once after the server lost its script cache) that checks the
// session is still live, applies the patch in Patch.Apply's order, checks the
// size limit before writing anything, bumps the version and sets the TTL, so
// the patch is atomic against concurrent requests and a refused patch changes
// nothing. A patch reads and writes only the fields it names (plus the
// metadata), so its cost does not grow with the session. A touch (a request
// that changed nothing but must slide the idle deadline) rewrites the
// metadata fields only, never the values. Delete is one DEL.
//
// # Renew
//
// On a single server or through Sentinel, renew is the same script with both
// keys: the data moves to the new key with its TTL and the old key is
// deleted in one atomic step. In Redis Cluster the two keys are in different
// slots and no script may touch both; a hash tag shared by all sessions would
// put them all in one slot. There the store copies to the new key, then
// deletes the old one (three round trips); see renewAcrossSlots for the
// window this leaves and why it is safe.
//
// # Failures
//
// New pings the servers and fails with an error naming them when they do not
// answer. Every call is bounded by its context's deadline and by
// Config.Timeout: a stalled server gives an error wrapping
// context.DeadlineExceeded (or a socket timeout), never a hung request. Connections broken by a server
// restart are discarded and redialled, so the store recovers by itself.
// A TLS mismatch is named: plain TCP to a port that speaks only TLS is
// closed by the server, and TLS to a plain port is never answered, and
// New's error says which it likely is.
//
// # Logging
//
// go-redis logs what it cannot return to a caller (a dial that failed in
// its pool, a Sentinel failover, a cluster reload) through one logger per
// process (redis.SetLogger), by default to stderr through the standard log
// package. The first New replaces it with a router that sends each line,
// as a warning starting "redis: " with the attribute logger=go-redis, to
// the Config.Logger of the most recently opened Store that is still open,
// and to slog.Default() when none is. The Stores' passwords are masked in
// the lines. A line does not say which client wrote it, so with two Stores
// that log to different loggers a line may land in the other's; a program
// that wants go-redis's lines elsewhere calls redis.SetLogger after its
// first New, which is then left alone.
//
// # A user's sessions
//
// The Store is a session.PrincipalIndex on a single server and with
// Sentinel: each principal's sessions are a set under Prefix +
// "principal:" + 32 hex digits of the principal's SHA-256, kept by the
// same scripts as the sessions, atomically, with a TTL never below its
// longest session's (principals.go has the details). In Redis Cluster a
// session and its set are in different slots, so there is no index and
// Manager.Sessions fails with errors.ErrUnsupported (RevokePrincipal is
// the alternative).
//
// # Revoker
//
// Revoker is a session.Revoker over Redis, for Manager.RevokePrincipal on
// any store (it matters most for the cookie store and Memcache): a
// principal's generation is the integer under Prefix+"gen:"+principal,
// read with GET (absent: 0) and moved on with INCR. Store.Revoker shares a
// Store's connections; NewRevoker opens its own. The keys have no TTL and
// must not be lost (see Revoker).
package redis
