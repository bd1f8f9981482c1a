package peer

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
)

// Client calls peers. It is safe for concurrent use; one Client serves a
// whole node.
type Client struct {
	cfg    Config
	ctx    context.Context // ends on Close; aborts dials in progress
	cancel context.CancelFunc
	wg     sync.WaitGroup // dial-then-read goroutines, one per connection

	closeOnce sync.Once

	mu     sync.RWMutex // guards pools and closed, and wg.Add against Close
	pools  map[string]*pool
	closed bool
}

// NewClient returns a Client; cfg is validated and its zero fields take
// their defaults. It dials nothing until the first Call.
func NewClient(cfg Config) (*Client, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.setDefaults()
	cfg.live = newSecrets(cfg.secretList())
	c := &Client{cfg: cfg, pools: make(map[string]*pool)}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	return c, nil
}

// Call sends one request to addr (host:port) over a persistent, pipelined
// connection and waits for the answer or ctx: to the moment of ctx's
// deadline, but a cancellation before it may be noticed up to 5 ms late
// (Call looks at ctx's Done only once it has waited that long, which spares
// most calls the cost of arming a lazily made ctx; see watchAfter). The
// Client does not keep body after Call returns; the returned body belongs
// to the caller.
//
// Transport failures (refused, reset, timeout, auth failure) return errors
// wrapping ErrUnavailable, and ctx.Err() when ctx ended; a handler's error
// returns a *RemoteError; a body over MaxFrame (either way) an error
// wrapping ErrFrameTooLarge; a closed Client ErrClosed. A broken connection
// is redialled by the next Call; the calls in flight on it fail at once.
func (c *Client) Call(ctx context.Context, addr string, op uint8, body []byte) ([]byte, error) {
	if len(body) > c.cfg.MaxFrame {
		return nil, fmt.Errorf("peer: call op %d on %s: request of %d bytes: %w (MaxFrame is %d)", op, addr, len(body), ErrFrameTooLarge, c.cfg.MaxFrame)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("peer: call op %d on %s: %w: %w", op, addr, ErrUnavailable, err)
	}
	resp, err := c.call(ctx, addr, op, body)
	if _, remote := err.(*RemoteError); err != nil && !remote {
		return nil, fmt.Errorf("peer: call op %d on %s: %w", op, addr, err)
	}
	return resp, err
}

func (c *Client) call(ctx context.Context, addr string, op uint8, body []byte) ([]byte, error) {
	for attempt := 0; ; attempt++ {
		p, err := c.pool(addr)
		if err != nil {
			return nil, err
		}
		cc, err := p.get(ctx, c)
		if err != nil {
			return nil, err
		}
		resp, err := cc.call(ctx, op, body)
		// A connection that broke before we sent anything is safe to
		// retry on a fresh one: the request never left.
		if errors.Is(err, errNotSent) && attempt == 0 {
			continue
		}
		return resp, err
	}
}

// CloseAddr drops the connections to addr (a departed peer): calls in
// flight on them fail with ErrUnavailable; a later Call to addr dials anew.
func (c *Client) CloseAddr(addr string) {
	c.mu.Lock()
	p := c.pools[addr]
	delete(c.pools, addr)
	c.mu.Unlock()
	if p != nil {
		p.close(fmt.Errorf("connection dropped by CloseAddr: %w", ErrClosed))
	}
}

// Close closes every connection, failing the calls in flight, and waits for
// the Client's goroutines. Later Calls fail with ErrClosed. It is
// idempotent.
func (c *Client) Close() error {
	c.closeOnce.Do(func() {
		c.mu.Lock()
		c.closed = true
		pools := c.pools
		c.pools = nil
		c.mu.Unlock()
		c.cancel()
		for _, p := range pools {
			p.close(ErrClosed)
		}
		c.wg.Wait()
	})
	return nil
}

// pool returns the pool of addr, creating it on first use.
func (c *Client) pool(addr string) (*pool, error) {
	c.mu.RLock()
	p, closed := c.pools[addr], c.closed
	c.mu.RUnlock()
	if p != nil {
		return p, nil
	}
	if closed {
		return nil, ErrClosed
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, ErrClosed
	}
	if p = c.pools[addr]; p == nil {
		p = newPool(addr, c.cfg.ConnsPerPeer)
		c.pools[addr] = p
	}
	return p, nil
}

// spawn runs f on a tracked goroutine unless the Client is closed.
func (c *Client) spawn(f func()) bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.closed {
		return false
	}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		f()
	}()
	return true
}

// connect dials addr and runs the handshake.
func (c *Client) connect(addr string) (*clientConn, error) {
	ctx, cancel := context.WithTimeout(c.ctx, c.cfg.DialTimeout)
	nc, err := c.cfg.Dial(ctx, addr)
	cancel()
	if err != nil {
		return nil, fmt.Errorf("%w: dial: %w", ErrUnavailable, err)
	}
	l, err := establish(c.ctx, nc, &c.cfg, true, hostOf(addr))
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("%w: handshake: %w", ErrUnavailable, err)
	}
	l.w.spawn = c.spawn
	return newClientConn(addr, l), nil
}

func hostOf(addr string) string {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	return host
}

// pool holds the connections of one address: ConnsPerPeer slots used in
// turn, each dialled by the first call that finds it empty or broken while
// the other calls for that slot wait for the same dial.
type pool struct {
	addr string
	next atomic.Uint32 // round-robin over the slots

	mu     sync.Mutex // guards conns, dials and closed
	conns  []*clientConn
	dials  []*dial // the dial in progress per slot, or nil
	closed bool
}

// dial is one connection attempt; done closes when cc or err is set.
type dial struct {
	done chan struct{}
	cc   *clientConn
	err  error
}

func newPool(addr string, n int) *pool {
	return &pool{addr: addr, conns: make([]*clientConn, n), dials: make([]*dial, n)}
}

// get returns a live connection of the next slot, dialling it if needed.
func (p *pool) get(ctx context.Context, c *Client) (*clientConn, error) {
	i := int(p.next.Add(1) % uint32(len(p.conns)))
	p.mu.Lock()
	if cc := p.conns[i]; cc != nil && cc.alive() {
		p.mu.Unlock()
		return cc, nil
	}
	d, err := p.dialLocked(i, c)
	p.mu.Unlock()
	if err != nil {
		return nil, err
	}
	select {
	case <-d.done:
		return d.cc, d.err
	case <-ctx.Done():
		return nil, fmt.Errorf("%w: waiting for a connection: %w", ErrUnavailable, ctx.Err())
	}
}

// dialLocked returns the dial in progress for slot i, starting one if there
// is none. The dial runs on its own goroutine, not the caller's, so that a
// caller whose ctx ends early does not abort it for the others waiting.
func (p *pool) dialLocked(i int, c *Client) (*dial, error) {
	if p.closed {
		return nil, fmt.Errorf("%w: connections to %s were closed", ErrUnavailable, p.addr)
	}
	if d := p.dials[i]; d != nil {
		return d, nil
	}
	d := &dial{done: make(chan struct{})}
	if !c.spawn(func() { p.dialAndRead(i, c, d) }) {
		return nil, ErrClosed
	}
	p.dials[i] = d
	return d, nil
}

// dialAndRead connects slot i, publishes the connection, then becomes its
// reader goroutine.
func (p *pool) dialAndRead(i int, c *Client, d *dial) {
	cc, err := c.connect(p.addr)
	p.mu.Lock()
	p.dials[i] = nil
	if err == nil && p.closed {
		cc.fail(ErrClosed)
		cc, err = nil, fmt.Errorf("%w: connections to %s were closed", ErrUnavailable, p.addr)
	}
	if err == nil {
		p.conns[i] = cc
	}
	d.cc, d.err = cc, err
	close(d.done)
	p.mu.Unlock()
	if cc != nil {
		cc.readLoop()
	}
}

// close fails every connection of the pool with cause; dials in progress
// close their connection when they finish.
func (p *pool) close(cause error) {
	p.mu.Lock()
	p.closed = true
	conns := p.conns
	p.mu.Unlock()
	for _, cc := range conns {
		if cc != nil {
			cc.fail(cause)
		}
	}
}
