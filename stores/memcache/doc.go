// Package memcache keeps sessions in memcached through bradfitz/gomemcache,
// spread over Geddy's list of servers by consistent hashing.
//
// # Several servers
//
// Each session lives on one server, chosen by its key on a ketama ring
// built as libketama builds one for servers of equal weight: 160 points per
// server from the MD5 of its name as written in Config.Servers, a key going
// to the first point at or after the MD5 of the key. Each server holds
// about an even share (within ±15% for 2 to 8 servers), and adding or
// removing one server of N moves only the sessions of about 1/N of the ring,
// to or from that server; every other session stays where it is.
// gomemcache's default, crc32 mod N, would move almost all of them, which
// for sessions means logging almost every user out. Since the points come
// from the names, not the addresses, list the servers the same way on
// every worker (the order does not matter). A server listed twice is
// refused: there are no weights. Coming from a version of this store that
// used crc32 mod N (before the ring), most sessions are looked up on
// another server once: their users sign in again.
//
// Names are resolved once, in New, as gomemcache's ServerList does; a
// server whose name later resolves to another address is reached at the
// old one until the workers restart.
//
// Losing a server costs the sessions on it and nothing else. While it is
// down, a request whose session lives there fails with an error naming the
// server (a 503 through the middleware; the session is not replaced, as a
// short outage would otherwise log those users out); the sessions on the
// other servers load and save as before. The Store is a
// session.IDGenerator: after a call to a server fails (refused, reset, or
// no answer within Config.Timeout; not a call its own context cut short),
// new session IDs avoid that server for 5 seconds, so new sessions (and renewed ones) are made on
// the servers that are up; after that, the next new session that falls on
// it tries it again. The first new session that falls on a server nobody has
// found down yet fails the same way. When it is back, memcached has lost
// what it held (it keeps nothing on disk): those users get new sessions.
//
// # No authentication
//
// memcached's text protocol, the one gomemcache speaks, has no
// authentication and no encryption (SASL exists only in the binary
// protocol, TLS only in builds that enable it; neither is used here).
// Anyone who can reach the port can read every session, and with it log in
// as its user, change it, or flush them all. Run memcached on a private
// network that only the workers reach (bind it to that interface, firewall
// the port), never on a public address.
//
// # Sealing at rest
//
// With Config.Keys set, every record is sealed before it leaves the process
// with the cookie store's AEAD (AES-256-GCM with key IDs; the first key
// seals, every key opens, so keys rotate the same way), bound to the
// session's ID: memcached, a network capture of its plain protocol and
// anyone who can read the port see only ciphertext, and a record copied to
// another session's item does not open there. It does not keep an attacker
// who can reach memcached from deleting or flushing sessions, nor from
// putting an old sealed copy of a session back under its own ID; the
// private network above is still required. Sealing costs about 1.4 µs of
// CPU per load and save of a 200-byte session, and 30 bytes plus the key
// ID's length per record, which MaxSessionBytes counts (BENCHMARKS.md).
//
// A record that does not open (sealed with a key no longer in Config.Keys,
// stored before sealing was turned on, changed in the server) makes Load
// and Save fail with ErrCannotOpen, naming the session but not its content:
// the request gets the store's error (503), not a fresh session, because a
// key left out of the config by mistake would otherwise silently log every
// user out and drop their data. To turn sealing on for a memcached that
// holds sessions, empty it (restart it, or flush_all) or use a new Prefix:
// its users sign in again once. A store without Keys does not look for
// envelopes: a sealed record is a foreign value to it, and loads as not
// found.
//
// # Layout
//
// Each session is one item under Prefix+ID (default "sess:") holding the
// session.Record binary form. Keys are always valid memcached keys (at most
// 250 bytes, no spaces or control characters): the prefix is checked by
// Config.Validate and a token is used only when session.ValidID accepts it,
// which admits one spelling per ID, so no cookie can form an invalid key or
// reach another session's item.
//
// # Saves
//
// A new session is one add (refused if the key exists). A patch or a touch
// is a gets/cas loop: read the item with its CAS token, apply the patch to
// the record, write it back only if nobody wrote in between; on a conflict
// it waits a short random backoff and tries again, at most Config.CASRetries
// times, then fails with ErrConflict. Two concurrent requests that change
// different keys therefore both survive. A renew copies the session to the
// new ID and then deletes the old item; see Store.renew for the window this
// leaves.
//
// # Expiry
//
// Each write sets the item's expiration to the session's deadline, so
// memcached frees it by itself, and Load also checks the deadline against
// Config.Now. memcached reads an expiration above 30 days as an absolute
// Unix time, so a longer TTL (two weeks is the default idle timeout; a user
// may set more) is sent as one.
//
// # Failures
//
// gomemcache takes no context: each call is bounded by Config.Timeout on the
// socket, and a call whose context deadline comes sooner returns at that
// deadline with the context's error while the abandoned call finishes in the
// background (Close waits for it). A context that is cancelled without a
// deadline is noticed when the call returns. A server that was down and is
// back is redialled by itself.
// memcached keeps nothing on disk: a restarted server has lost its sessions,
// and their users get new ones.
//
// memcached cannot list keys, so the store keeps no index of a user's
// sessions: Manager.Sessions and Manager.DestroyPrincipal fail with
// errors.ErrUnsupported over it, and Manager.RevokePrincipal (with a
// Revoker) is how to end them all.
package memcache
