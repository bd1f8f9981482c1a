package peer

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// errNotSent marks a call that failed before its request was written, so it
// may be retried on another connection.
var errNotSent = errors.New("request not sent")

// result is the outcome of one call, handed from the reader to the caller.
type result struct {
	body []byte
	err  error
}

// clientConn is one connection of a Client: callers write requests through
// the link's frame writer, and one reader goroutine hands each response to
// the caller waiting for its ID.
type clientConn struct {
	addr   string
	l      *link
	nextID atomic.Uint64
	broken atomic.Bool // set with err; read without the lock on the hot path

	mu      sync.Mutex // guards pending and err
	pending map[uint64]chan result
	err     error // why the connection broke; nil while it works
}

func newClientConn(addr string, l *link) *clientConn {
	return &clientConn{addr: addr, l: l, pending: make(map[uint64]chan result)}
}

func (cc *clientConn) alive() bool { return !cc.broken.Load() }

// watchAfter is how long a call waits for its answer before it watches
// ctx's Done. Most answers come back sooner, so most calls never ask for
// the channel: for a lazily armed ctx (internal/lazyctx: the request's ctx
// under httpmw.WithTimeout, the cluster's bound on each call) the first
// Done makes a context.WithDeadline, with its runtime timer, a child
// registered with the parent and four allocations, which on a worker
// replicating every write was about 5% of its CPU (BENCHMARKS.md). A
// deadline is still kept to the moment, by the call's own timer; only a
// cancellation that comes before the deadline may be noticed up to
// watchAfter late.
const watchAfter = 5 * time.Millisecond

// timers holds stopped timers for the first wait of calls: a timer is
// reused, not made per call. (Since Go 1.23 a stopped or reset timer
// delivers no stale tick.)
var timers = sync.Pool{New: func() any {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return t
}}

// call sends one request and waits for its answer or ctx.
func (cc *clientConn) call(ctx context.Context, op uint8, body []byte) ([]byte, error) {
	id, ch, err := cc.register()
	if err != nil {
		return nil, err
	}
	if err := cc.l.w.write(&frame{id: id, kind: kindRequest, op: op, body: body}); err != nil {
		cc.fail(fmt.Errorf("write: %w", err)) // delivers the error to ch
	}
	wait := watchAfter
	if d, ok := ctx.Deadline(); ok {
		wait = min(wait, time.Until(d))
	}
	t := timers.Get().(*time.Timer)
	t.Reset(wait)
	select {
	case res := <-ch:
		t.Stop()
		timers.Put(t)
		return res.body, res.err
	case <-t.C:
		timers.Put(t) // fired: stopped
	}
	select {
	case res := <-ch:
		return res.body, res.err
	case <-ctx.Done():
		return cc.abandon(id, ch, ctx.Err())
	}
}

func (cc *clientConn) register() (uint64, chan result, error) {
	id := cc.nextID.Add(1)
	ch := make(chan result, 1)
	cc.mu.Lock()
	defer cc.mu.Unlock()
	if cc.err != nil {
		return 0, nil, fmt.Errorf("%w: %w", errNotSent, cc.err)
	}
	cc.pending[id] = ch
	return id, ch, nil
}

// abandon gives up on call id after ctx ended, unless its answer arrived in
// the meantime. A late answer is dropped by the reader.
func (cc *clientConn) abandon(id uint64, ch chan result, cause error) ([]byte, error) {
	cc.mu.Lock()
	delete(cc.pending, id)
	cc.mu.Unlock()
	select {
	case res := <-ch:
		return res.body, res.err
	default:
		return nil, fmt.Errorf("%w: no answer from %s: %w", ErrUnavailable, cc.addr, cause)
	}
}

// readLoop hands each response to its caller until the connection breaks.
func (cc *clientConn) readLoop() {
	for {
		f, err := cc.l.r.next()
		if err != nil {
			cc.fail(fmt.Errorf("read: %w", err))
			return
		}
		res, err := resultOf(f)
		if err != nil {
			cc.fail(err)
			return
		}
		cc.deliver(f.id, res)
	}
}

func resultOf(f frame) (result, error) {
	switch f.kind {
	case kindResponse:
		return result{body: f.body}, nil
	case kindError:
		return result{err: &RemoteError{Code: f.status, Msg: string(f.body)}}, nil
	case kindTooLarge:
		return result{err: fmt.Errorf("response: %w", ErrFrameTooLarge)}, nil
	}
	return result{}, fmt.Errorf("%w: server sent frame kind %d", ErrProtocol, f.kind)
}

func (cc *clientConn) deliver(id uint64, res result) {
	cc.mu.Lock()
	ch := cc.pending[id]
	delete(cc.pending, id)
	cc.mu.Unlock()
	if ch != nil {
		ch <- res // buffered: never blocks
	}
}

// fail breaks the connection once: it closes the socket (ending the
// reader) and fails every call in flight with ErrUnavailable and cause.
func (cc *clientConn) fail(cause error) {
	err := fmt.Errorf("%w: connection to %s broke: %w", ErrUnavailable, cc.addr, cause)
	cc.mu.Lock()
	if cc.err != nil {
		cc.mu.Unlock()
		return
	}
	cc.err = err
	cc.broken.Store(true)
	pending := cc.pending
	cc.pending = nil
	cc.mu.Unlock()
	cc.l.nc.Close()
	for _, ch := range pending {
		ch <- result{err: err}
	}
}
