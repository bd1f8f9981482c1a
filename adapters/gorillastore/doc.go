// Package gorillastore is a gorilla/sessions Store backed by any sessionmesh
// session.Store: the in-process cluster, Redis, Memcache or memory. Code
// written for gorilla/sessions (and the frameworks built on it:
// gin-contrib/sessions, echo-contrib/session) keeps its Get, Save, Values,
// Flashes and Options, and gets sessionmesh's stores underneath. The name
// follows gorilla's ecosystem (redistore, pgstore): a store, for gorilla.
//
//	st := gorillastore.New(memStore) // any session.Store
//	s, err := st.Get(r, "sid")       // or sessions.GetRegistry(r).Get(st, "sid")
//	s.Values["user"] = "alice"
//	err = s.Save(r, w)
//
// # What goes where
//
// The cookie carries the store's token (the session ID, 32 bytes from
// crypto/rand, or the ID the store mints when it implements
// session.IDGenerator, as the cluster does); the values stay in the store.
// A cookie whose session is unknown, expired or malformed is never adopted:
// the request gets a new session (IsNew) and its first Save creates it under
// a fresh ID.
//
// # Values
//
// Keys must be strings of 1 to session.MaxKeyLen bytes (not starting with a
// NUL byte, which sessionmesh reserves); Save refuses any other key with an
// error naming it, before it writes anything. gorilla/sessions allows any
// key, but a store keeps a map of strings, and string keys are what
// gin-contrib/sessions, echo-contrib/session and gorilla's flashes use.
//
// Each value is encoded on its own with encoding/gob, as gorilla's own
// stores encode the whole map: a value round-trips with its Go type (an int
// stays an int, a registered struct comes back as that struct), and a type
// needs gob.Register exactly when it does with gorilla's CookieStore
// (structs and maps behind an interface{}; basic types, slices of them and
// []interface{}, which flashes use, need nothing). A value gob cannot encode
// makes Save fail with an error naming its key and type, before anything is
// written. A stored value that does not decode (a type this binary does not
// register) is left out of Values and named in Get's error; the rest of the
// session works, and the stored value stays as it is unless the request
// sets that key. Values are gob, not the JSON of session.Manager: a gorilla
// session and a middleware session can share a store, not a session.
//
// # Saves are patches
//
// Save writes only what the request changed: the keys whose value differs
// from what Get loaded (Set) and the keys it removed (Delete), applied by the
// store atomically to the newest stored version (session.Patch). Two
// concurrent requests of one session that change different keys therefore
// both survive, as with the middleware; for the same key the last writer
// wins. A Save with no change still writes, to slide the idle deadline (a
// touch). Flashes (AddFlash, Flashes) live in Values under gorilla's keys, so
// taking them is a Delete in the same patch.
//
// Save needs the request Get was called with: what Get loaded is kept in
// that request's context until Save (gorilla keeps its registry there the
// same way), and a session that this Store did not load for the request is
// refused. If the store failed when Get loaded the session, Save returns that
// failure and writes nothing, so an outage never replaces a user's session
// with a new one. A session ended by a concurrent request (MaxAge -1, expiry)
// is not brought back: Save fails with an error wrapping session.ErrNotFound.
//
// # Options and the cookie
//
// Store.Options are the defaults each new session copies, as in gorilla:
// Path "/", MaxAge 14 days, HttpOnly, SameSite Lax. MaxAge is both the
// cookie's Max-Age and the session's idle timeout in the store, renewed by
// every Save; MaxAge 0 sends a browser-session cookie (no Max-Age) and keeps
// the session for the default 14 idle days; MaxAge < 0 deletes the session
// from the store and expires the cookie.
//
// The cookie is written by session.Manager.Cookie, so it follows the same
// rules as the middleware's: always HttpOnly (Options.HttpOnly is ignored:
// no script needs the token, and an XSS bug must not be able to read it),
// and Secure when Options.Secure is set, and otherwise by Store.Secure
// (default session.SecureAuto: Secure on every response but one to plain
// HTTP to a loopback host; session.SecureNever for plain HTTP on a LAN).
// Combinations that browsers drop (SameSite None without Secure, a __Host-
// name with a Domain, ...) make Save fail with the session package's error
// naming the field, before anything is written.
package gorillastore
