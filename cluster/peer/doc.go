// Package peer is the transport cluster nodes use to call each other: a
// Client sends a request (an operation code and a body) to a Server over a
// persistent TCP connection and waits for the answer. It is the data path of
// the cluster, so it is built for latency: HTTP costs several times a raw
// round trip, this costs little more than one.
//
// # Model
//
// A Client keeps ConnsPerPeer connections to each address it calls, dialled
// by the first Call that needs one. Connections are pipelined: every request
// carries an ID, many calls are in flight on one connection at once, and the
// Server runs their handlers concurrently and answers in any order; a
// request the Server's Config.Inline says waits on nothing, and that came
// alone, is served by the goroutine that read it, with no hand-over. A lone
// call is written by its own goroutine at once; frames that come while a
// write is under way are batched into the next one, so that under load many
// small requests (or answers) share one system call and one segment.
//
// A connection that breaks (reset, closed, a frame that fails to decode)
// fails every call in flight on it at once with ErrUnavailable instead of
// leaving them to their timeouts; the next Call dials a fresh one. Calls are
// not retried once sent: whether a handler ran is unknown after a transport
// error, and only the caller knows whether its operation is idempotent.
//
// # Wire format
//
// A connection opens with a handshake (see below), then carries frames:
//
//	uint32 length | uint64 request ID | uint8 kind | uint8 op | uint16 status | body
//
// length counts the bytes after it, big-endian like every integer here. kind
// says request, response, error (status is the RemoteError code, body its
// message) or "response too large". A frame announcing more than MaxFrame
// body bytes closes the connection before anything is allocated for it.
//
// # Handshake and security
//
// The client sends a hello (magic "SMPR", protocol version, flags, the
// length of its name, a byte that is 0 from a client, a 32-byte random
// nonce, then its Config.Name); the server answers with its own. With keys
// (Secret, or the list Secrets), the server follows its hello with one
// proof per key of its list, HMAC-SHA256(key, role | client hello | server
// hello), and says in that byte how many follow beyond the first. The
// client picks the first key of its own list that one of the proofs was
// made with and answers with its proof under that key; the server finds
// which of its keys the proof was made with. Both derive one AES-256-GCM
// key per direction with HKDF-SHA256 over that key, salted with both
// hellos. So two sides connect when their lists share any key, which is
// what a rotation needs: a node with [new, old] talks to nodes with [old]
// and with [new]. Sides that share none are refused on both ends with
// ErrAuth; the server logs "client proved none of this side's N key(s)",
// never a key. A server with one key speaks exactly as before key lists
// (the byte is 0); one with several needs peers that know key lists.
// SetSecrets changes the list of a running Server or Client: handshakes
// use it from then on, and an established connection keeps the key it
// agreed on until it closes (restart a worker to cut its connections
// made with a dropped key). The names are
// part of the hellos, so the proofs and keys cover them: a connection
// speaks for the name its client gave, which the Server hands its Handler
// (FromContext), and a name changed on the way fails the handshake. What
// the name proves is "a holder of the secret connected as this name": every
// holder can claim any name, so the cluster uses it to keep a node from
// speaking for another by mistake or by a bug, not as a defence against a
// holder gone rogue (that takes certificates: TLS with VerifyName, below).
//
// Both ends must speak the same protocol version; there is no negotiation
// and no support for a mixed-version cluster. Version 2 added the name to
// the hello; a version 1 peer is refused with an error naming both
// versions, so upgrade every node of a cluster together. Every
// later frame (everything after the length) is sealed with its direction's
// key and a nonce that is the frame's sequence number, so a replayed,
// reordered, dropped or altered frame fails authentication and closes the
// connection. Without a Secret nothing is authenticated or encrypted; the
// cluster allows that only on loopback. TLS, when configured, wraps the
// connection underneath all of this; with Config.VerifyName each side then
// checks the name in the other's hello against the certificate the other
// presented, so a name is bound to a certificate, not only to the secret.
//
// The server gives a client HandshakeTimeout to complete the handshake.
// Garbage, a wrong secret, another protocol version or a client that says
// nothing closes that connection only; the server logs it (rate-limited, so
// a flood of bad connections cannot flood the log) and keeps serving others.
// At most MaxHandshakes connections, MaxHandshakesPerIP of them from one
// source IP, may be in the handshake at once; one more is closed as soon as
// it is accepted. Until it authenticates a connection costs its goroutine
// and a few KiB (about 6.6 KiB measured, against 39 KiB when the 32 KiB
// read buffer was allocated first), so a flood of connections that never
// speak holds at most MaxHandshakes of them for HandshakeTimeout each.
package peer
