// Package redis keeps sessions in Redis: a single server, a master found
// through Redis Sentinel, or a Redis Cluster, through one go-redis
// UniversalClient, with username/password (requirepass or ACL) and TLS.
//
// # Layout
//
// Each session is one hash under Prefix+ID (Prefix is Geddy's "ns", default
// "sess:"). Every session key is a field "v:<key>" holding the encoded value
// as the Manager made it (JSON by default, so other languages can read it, as
// with Geddy's Redis store); the metadata fields are id, created, touched,
// idle, expires (Unix nanoseconds in decimal, 0 for none), version and size
// (the length of all keys and values). The "v:" prefix keeps a user's key
// from ever colliding with a metadata field.
// The key's TTL runs to the session's deadline, so Redis frees it by itself;
// Load also checks the deadline against Config.Now, so expiry does not
// depend on the server's clock.
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
package redis
