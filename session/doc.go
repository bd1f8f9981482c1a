// Package session is the user-facing half of sessionmesh: a Session object with
// typed Get and Set on every request, a Manager that loads it lazily and saves
// it as a patch, and the Store contract every data-store implements.
//
// # Model
//
// A session is a map from key to an encoded value. Values are JSON by default
// (so another language can read what a server-side store holds); Set encodes at
// once and reports an encoding error there, Get decodes into the caller's type:
//
//	s := session.FromContext(r.Context())
//	n, _ := session.Get[int](s, "counter")
//	s.Set("counter", n+1)
//
// A value that cannot be decoded is an error for that key only; the rest of
// the session keeps working.
//
// Flash messages (Session.Flash, PopFlash) are values shown once: PopFlash
// removes what it reads in the same request's patch. They keep to keys of
// their own, so they never meet the session's values (flash.go).
//
// # Principals and revocation
//
// SetPrincipal records the logged-in user on a session, under a reserved
// key like the flashes' (principal.go), so every store keeps it; Renew
// keeps it, Clear and Destroy drop it. With Config.Revoker it records the
// user's generation too, and Manager.RevokePrincipal ends every session of
// the user, on every store, every copy of a cookie-store cookie included:
// each load of a session with a principal compares its generation with the
// Revoker's, and an old one loads as not found, as an expired session does
// (revoke.go). The cost is one Revoker lookup per request that loads a
// session with a principal; Config.RevokerCache trades lookups for a
// delay on other workers. A Revoker error fails the request (503), never
// lets the session through. Destroy ends one session, "log out" on one
// device; Config.RevokeOnDestroy makes it "log out everywhere", the way
// to make logout stick with the cookie store, whose Destroy cannot reach
// a copy of the cookie. Without a Revoker nothing is looked up and
// RevokePrincipal fails with errors.ErrUnsupported; a Revoker removed from
// the config lets revoked sessions load again.
//
// # Every session of a user
//
// Manager.Sessions lists a user's live sessions (SessionInfo: an ID hash,
// created, last seen, expiry) and Manager.DestroyPrincipal deletes them
// all, through a store that implements PrincipalIndex (index.go): memory,
// cluster, Redis. The principal's value is plain bytes, not the Codec's,
// so a store reads it from any copy it holds (PrincipalOf,
// BinaryPrincipal, Patch.Principal) and indexes it with no change to the
// Store contract. On other stores both fail with errors.ErrUnsupported,
// and RevokePrincipal is the way to end the sessions. Counter and
// Iterator are the optional interfaces of a store that counts and walks
// its sessions: memory, cluster, Redis.
//
// # Events
//
// Config.OnEvent receives an Event for every session created, renewed,
// destroyed, expired or evicted, with its principal, for an audit log
// (events.go). The first three are a request's: the Manager reports them
// in Commit once the store acknowledged the write, so once, on the worker
// that served the request, and never for a write that failed or was
// dropped. Expiry and eviction are the store's: a store that removes
// sessions itself implements EventSource (the memory store, and the
// cluster's, where only a session's primary reports it), and the Manager
// registers with it at NewManager; the others report nothing of them. No
// event carries the session ID, a bearer token: IDHash stands for it. The
// hook runs synchronously, in the request's or the store's goroutine: it
// must be fast, and a panic in it is recovered and logged.
//
// # Several Managers
//
// One request can carry a session of each of several Managers (an admin
// area's beside the user's), each under its own cookie name:
// Manager.FromContext finds a Manager's own, FromContext the innermost.
// Two Managers with one cookie name in one request would overwrite each
// other's cookie, so every use of the second's session fails with
// ErrInvalidConfig instead.
//
// # Saves are patches
//
// The Session records which keys a request set or deleted, and whether it
// cleared, renewed or destroyed the session. At the end of the request the
// Manager hands that Patch to the Store, which applies it atomically to the
// newest stored version. Two concurrent requests of one session that touch
// different keys therefore both survive; for the same key the last writer wins.
// Destroy and Renew win over a concurrent patch: a patch for a session that is
// gone is refused with ErrNotFound and dropped, it never resurrects the session.
//
// # Tokens and IDs
//
// Server-side stores put the session ID in the cookie; the cookie store puts
// the sealed record there. The Store contract therefore speaks of a token. IDs
// are 32 bytes from crypto/rand in unpadded base64url (43 characters), and a
// token that is not a well-formed ID is rejected before any store lookup. An
// unknown ID is never adopted: the client gets a fresh ID (strict mode).
//
// # Expiry
//
// Every session has an idle timeout (default two weeks) and an optional
// absolute lifetime, both stored in the Record as deadlines and enforced by the
// store. Sliding refresh is lazy: a request that changes nothing re-writes
// ("touches") the session only when more than Config.TouchInterval has passed
// since the last write, so read-only requests cost no write. The cookie's
// Max-Age slides the same way: a write sends the cookie again only if it is
// the first write in its TouchInterval (counted from the session's creation),
// so a busy session does not send Set-Cookie on every response. Either way
// the cookie and the stored deadline lag the last request by less than
// TouchInterval.
//
// One session can live by its own timeouts (lifetime.go): at login, beside
// Renew, Session.RememberMe gives it Config.RememberMe (30 days idle by
// default), or Session.SetTimeouts chooses an idle timeout, a lifetime and
// a browser-session cookie (Timeouts.SessionCookie: no Max-Age, while the
// server still ends the session when it is idle). They are kept in the
// session under a reserved key, as flashes are, so every store keeps them
// and Renew and Clear keep them; every later request slides the session
// by its own idle timeout, its TouchInterval is the same share of it, and
// its cookie's Max-Age follows its deadline. The request that sets them
// moves the stored absolute deadline (Patch.Expires) to the session's
// creation plus its lifetime.
//
// # The cookie
//
// The session cookie is HttpOnly, SameSite=Lax and Path=/ by default, and
// Secure on every response but one to plain HTTP whose Host is loopback
// (localhost, *.localhost, 127.0.0.0/8, ::1): SecureAuto. Development on
// http://localhost works with browsers and curl, while a deployment behind
// a TLS-terminating proxy gets Secure cookies even if nobody set
// TrustProxy. SecureAlways and SecureNever override; SecureNever is the
// development override for plain HTTP to a name that is not loopback (a
// container name, a LAN address), where the client would not send a
// Secure cookie back.
//
// A cookie name with the __Host- prefix (no other host, not even a
// sibling subdomain, can set it) must be Secure with Path=/ and no Domain;
// one with __Secure- must be Secure; a Partitioned cookie (CHIPS, for an
// app embedded cross-site) must be Secure. CookieConfig.Validate refuses
// the combinations browsers drop, and these cookies are Secure even on
// plain HTTP to localhost. Chrome, Firefox, curl and Go's cookiejar keep a
// Secure cookie from plain HTTP to localhost (they treat loopback as
// secure); a client that does not starts a new session on every request:
// develop with such a client, over https, or with the default name.
//
// Config.Validate lists every problem, one *FieldError per field, each
// wrapping ErrInvalidConfig.
package session
