// Package aead is the AEAD with key IDs that the stores share: the cookie
// store seals whole sessions into cookies with it, and the Redis and
// Memcache stores seal what they keep at rest.
//
// An envelope is
//
//	format version (1 byte) | key ID length (1 byte) | key ID | nonce (12 bytes) | ciphertext and tag (16 bytes)
//
// sealed with AES-256-GCM under the key the ID names, with a random nonce
// per seal. The associated data is the envelope's header (format, ID length
// and ID) followed by the caller's own associated data, which binds the
// envelope to where it belongs (the cookie's name, the session's ID, the
// session key's name). A Keys seals with its first key and opens with any
// of them, so keys rotate: put the new key first, keep the old ones until
// nothing sealed with them is left.
//
// The cookie store's tokens are these envelopes, so the format must not
// change: a changed layout gets a new format byte.
package aead
