// Package cookie is the session store that keeps each session in the
// client's cookie, sealed with AES-256-GCM: no server-side state at all.
//
// # The token
//
// The token (the cookie's value) is the unpadded base64url form of an
// envelope:
//
//	format version (1 byte) | key ID length (1 byte) | key ID | nonce (12 bytes) | ciphertext and tag
//
// (stores/internal/aead's envelope, which the Redis and Memcache stores
// also seal values at rest with). The plaintext is the session.Record's
// binary form, so the ID, the creation and last-write times and both
// deadlines travel sealed inside it and are enforced on every Load with the
// injected clock. The associated data binds the format version, the key ID
// and the cookie name: a cookie copied to another cookie name (another
// application with the same keys) does not open. Anything wrong with a
// token (bad base64, too short, an unknown key ID, failed authentication,
// another cookie name, expired) loads as "not found" with a nil error, and
// a patch on it fails with session.ErrNotFound.
//
// # Keys and rotation
//
// Config.Keys lists the keys, each with a short ID that the envelope
// carries. The first key seals; every key opens. To rotate, put the new key
// first and keep the old one until the longest session lifetime has passed;
// a cookie re-sealed by any write moves to the new key. A nonce is random per
// seal, so a key should seal well under 2^32 cookies before it is rotated.
//
// # Limits
//
// Browsers keep a cookie's "name=value" up to 4096 bytes. A Save whose cookie
// would be larger fails with ErrCookieTooLarge (which wraps
// session.ErrTooLarge): the request gets a clear error instead of a session
// silently dropped by the browser.
//
// A cookie store cannot revoke by itself: Delete is a no-op, and a copy of
// a cookie taken before a Destroy or a Renew still opens until its own
// deadline. To make logout stick, give the Manager a session.Revoker
// (session.Config.Revoker, e.g. redis.Revoker; in config the `revoke`
// block) and session.Config.RevokeOnDestroy: logging out then ends every
// session of the user, every copy of the cookie, at its next request, for
// one Redis GET per request of a logged-in session. Otherwise keep the idle
// timeout short, or use a server-side store where revocation matters
// (logout on a shared computer, stolen cookies). For the same reason
// two concurrent requests of one session each seal their own copy, and the
// cookie the browser keeps last wins: patches are not merged.
//
// Nor can it find a user's sessions: Manager.Sessions and
// Manager.DestroyPrincipal fail with errors.ErrUnsupported over it, and
// Manager.RevokePrincipal (with a Revoker) is how to end them all.
package cookie
