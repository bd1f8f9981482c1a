package cluster

import "context"

// Caller sends one request to the peer at addr and returns its reply.
// *peer.Client satisfies it; package clustertest wraps it to cut, drop and
// delay traffic between nodes. Implementations must be safe for concurrent
// use. A transport failure (refused, reset, timeout) must wrap
// peer.ErrUnavailable so the caller fails over to the next replica.
type Caller interface {
	Call(ctx context.Context, addr string, op uint8, body []byte) ([]byte, error)
}

// CallerFunc adapts a function to Caller.
type CallerFunc func(ctx context.Context, addr string, op uint8, body []byte) ([]byte, error)

// Call implements Caller.
func (f CallerFunc) Call(ctx context.Context, addr string, op uint8, body []byte) ([]byte, error) {
	return f(ctx, addr, op, body)
}
