package peer

import (
	"context"
	"net"
)

// Remote is the other end of the connection a request came on.
type Remote struct {
	// Name is the name the client gave in its hello (its Config.Name).
	// With a Secret it was covered by the handshake, so it is the name a
	// holder of the secret connected as, and every request of the
	// connection comes from that name; without one it is unauthenticated.
	Name string

	// Addr is the client's address.
	Addr net.Addr
}

type remoteKey struct{}

// NewContext returns ctx carrying r. A Server gives every Handler a ctx
// made with it; a test that calls a Handler directly uses it to say who is
// calling.
func NewContext(ctx context.Context, r Remote) context.Context {
	return context.WithValue(ctx, remoteKey{}, r)
}

// FromContext returns the Remote whose request a Handler is serving, from
// the Handler's ctx; ok is false for a ctx that carries none (not a
// Server's).
func FromContext(ctx context.Context) (r Remote, ok bool) {
	r, ok = ctx.Value(remoteKey{}).(Remote)
	return r, ok
}
