// Package httpmw is the net/http middleware of sessionmesh: it gives every
// request a lazily loaded session and saves it before the response starts.
//
// # Model
//
// The middleware reads the session cookie, starts a session with
// session.Manager.Start (no store I/O yet) and puts it in the request's
// context, where handlers find it with session.FromContext. The store is read
// only when the handler first uses the session, so a request that never
// touches it costs nothing.
//
// The response writer is wrapped so that the session is committed (saved to
// the store) before the first byte of the response leaves: on the first
// WriteHeader, Write or ReadFrom, on Flush, on Hijack, or when the handler
// returns (http.ResponseController reaches the rest through Unwrap). This
// is what lets the response carry the Set-Cookie of a new or renewed session,
// and it means an acknowledged response always has its session saved.
//
// # Headers
//
// Set-Cookie is sent only when the token changed, the cookie must be expired
// (Destroy, or a stale cookie), or its Max-Age must slide, which happens at
// most once per session.Config.TouchInterval (see the session package's
// Expiry): most responses of a busy session carry no Set-Cookie. A response that
// used the session gets "Vary: Cookie"; one that sets the cookie also gets
// `Cache-Control: no-cache="Set-Cookie"` so shared caches never hand one
// user's cookie to another.
// The cookie's attributes are the Manager's (session.CookieConfig): Secure
// unless the request is plain HTTP to a loopback host, by default.
//
// # Several cookies of one name
//
// A browser sends every cookie whose domain and path match the request, so
// a request can carry several cookies of the session's name: one the user
// got from this host and one a sibling subdomain set for the parent domain
// or a longer path (cookie tossing). The middleware passes them all to
// session.Manager.Start, in the order the request sent them, and the
// session is the first one that loads: a junk cookie sent first cannot hide
// the user's own. When none loads, the response expires the cookie only if
// the request sent exactly one (a stale cookie of ours); with several, a
// Max-Age=0 for the name could delete the user's real cookie too, so none
// is sent. Each cookie tried costs a store lookup, so at most eight are
// tried: the first, then the next distinct well-formed IDs
// (session.ValidID). A cookie name with the __Host- prefix (and Secure, Path=/, no
// Domain) stops the tossing at the browser: no other host can set it.
//
// # CSRF
//
// The middleware does not check where a request comes from. Change a
// session (log in, log out) on POST only, and wrap the middleware in Go's
// http.CrossOriginProtection, which answers 403 to a browser's cross-origin
// POST before the session is read (Example_crossOriginProtection).
//
// # Errors
//
// When the commit fails (the store is down, the session is too large), the
// error handler answers INSTEAD of the handler: the handler's status, body and
// the headers it set are discarded (headers set before the middleware ran, by
// outer middleware, are kept), and its later writes fail with ErrDiscarded.
// The default handler logs the error and answers 503 "session store
// unavailable"; replace it with WithErrorHandler.
//
// # Defined behaviour for late changes
//
// A handler that writes its body before touching the session commits an
// untouched session (nothing is saved). Reading the session afterwards still
// works: it is loaded on first use as usual. Changing it (Set, Delete, Clear,
// Renew, Destroy) fails with session.ErrCommitted, and the Manager logs the
// change at error level and counts it in Manager.LateChanges: the change is
// reported, never silently lost. The same holds for a handler that sets a
// value after writing: what it set before the first write is saved, what it
// sets after is refused. Set session values before writing the response.
//
// Informational responses (WriteHeader with 1xx other than 101) do not
// commit: the final response may still change the session.
//
// A handler that panics saves nothing that was not committed already: the
// panic goes on to net/http (or an outer recovery middleware) untouched.
//
// Hijack commits first, but a cookie set in that commit cannot reach the
// client unless the handler writes it itself on the hijacked connection
// (websocket libraries take the response headers as an argument for that).
package httpmw
