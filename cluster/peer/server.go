package peer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"runtime/debug"
	"sync"
	"time"

	"github.com/sessionmesh/sessionmesh/internal/ratelog"
)

// Handler serves one request. op is the caller's operation code; body is
// owned by the handler; FromContext(ctx) says which client sent it. Return
// (resp, nil), or an error: a *RemoteError (made with Errorf) anywhere in
// the error's chain keeps its Code, any other error is sent as Code 0 with
// its text. Handlers run concurrently, each on a goroutine of its own,
// except the requests Config.Inline names (served on the connection's
// reader when nothing else is buffered). ctx ends
// when the connection closes or the Server is closed. The Server does not
// keep resp after writing it. A panic is recovered, logged and answered as
// a Code 0 error.
type Handler func(ctx context.Context, op uint8, body []byte) ([]byte, error)

// A Server writes at most logBurst records per logPeriod (ratelog), so
// that a flood of bad connections (a scanner, a misconfigured peer
// redialling) cannot flood the log; the next record says how many were
// held back.
const (
	logBurst  = 10
	logPeriod = 10 * time.Second
)

// Server answers peer calls on a listener with a Handler.
type Server struct {
	ln     net.Listener
	cfg    Config
	h      Handler
	gate   *gate           // connections in the handshake: MaxHandshakes, MaxHandshakesPerIP
	log    *ratelog.Logger // rejections and panics: whoever reaches the port can cause them
	work   chan job        // unbuffered: a send succeeds only when a handler goroutine is idle
	ctx    context.Context // ends on Close; parent of every handler's ctx
	cancel context.CancelFunc
	wg     sync.WaitGroup // the accept loop, connections, handlers

	closeOnce sync.Once
	closeErr  error

	mu     sync.Mutex // guards conns and closed
	conns  map[*serverConn]struct{}
	closed bool
}

// NewServer serves ln with h until Close. cfg is validated; its zero fields
// take their defaults.
func NewServer(ln net.Listener, cfg Config, h Handler) (*Server, error) {
	if ln == nil || h == nil {
		return nil, errors.New("peer: NewServer needs a listener and a handler")
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.setDefaults()
	cfg.live = newSecrets(cfg.secretList())
	s := &Server{ln: ln, cfg: cfg, h: h, conns: make(map[*serverConn]struct{}), work: make(chan job)}
	s.log = ratelog.New(cfg.Logger, logBurst, logPeriod, time.Now)
	s.gate = newGate(cfg.MaxHandshakes, cfg.MaxHandshakesPerIP)
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.wg.Add(1)
	go s.acceptLoop()
	return s, nil
}

// Addr returns the listener's address.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Close stops the Server: it closes the listener and every connection (the
// calls in flight on them fail at once on the client side), cancels the
// handlers' ctx and waits for every goroutine, handlers included. It is
// idempotent and returns the listener's close error.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		conns := s.conns
		s.conns = nil
		s.mu.Unlock()
		if err := s.ln.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
			s.closeErr = fmt.Errorf("peer: close listener: %w", err)
		}
		// Connections first, then the handlers' ctx: a handler that returns
		// because its ctx ended must not get its "canceled" answer out, the
		// caller must see the node go away (ErrUnavailable).
		for sc := range conns {
			sc.close()
		}
		s.cancel()
		s.wg.Wait()
	})
	return s.closeErr
}

func (s *Server) acceptLoop() {
	defer s.wg.Done()
	var backoff time.Duration
	for {
		nc, err := s.ln.Accept()
		if err == nil {
			backoff = 0
			s.serve(nc)
			continue
		}
		if s.ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
			return
		}
		// Out of file descriptors, most likely: wait, so as not to spin.
		backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
		s.log.Log(slog.LevelWarn, "peer: accept failed", "addr", s.ln.Addr(), "err", err, "retry_in", backoff)
		if !s.sleep(backoff) {
			return
		}
	}
}

func (s *Server) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-s.ctx.Done():
		return false
	}
}

// serve starts the goroutine of a new connection, unless the Server closed
// or the connection would exceed a handshake cap (gate): then it closes
// the connection at once.
func (s *Server) serve(nc net.Conn) {
	ip := sourceIP(nc)
	if err := s.gate.enter(ip); err != nil {
		nc.Close()
		s.log.Log(slog.LevelWarn, "peer: refused connection", "remote", nc.RemoteAddr(), "local", nc.LocalAddr(), "err", err)
		return
	}
	sc := &serverConn{s: s, nc: nc, ip: ip, sem: make(chan struct{}, s.cfg.MaxInflight)}
	sc.ctx, sc.cancel = context.WithCancel(s.ctx)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		s.gate.leave(ip)
		sc.close()
		return
	}
	s.conns[sc] = struct{}{}
	s.wg.Add(1)
	go sc.run()
}

// spawn runs f on a tracked goroutine. Only goroutines the Server tracks
// call it, so the WaitGroup is above zero and Add cannot race Close's Wait.
func (s *Server) spawn(f func()) bool {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		f()
	}()
	return true
}

func (s *Server) forget(sc *serverConn) {
	s.mu.Lock()
	delete(s.conns, sc)
	s.mu.Unlock()
}

// serverConn is one accepted connection.
type serverConn struct {
	s      *Server
	nc     net.Conn
	ip     string // the source IP, in the gate until the handshake ends
	l      *link
	ctx    context.Context // ends when the connection closes
	cancel context.CancelFunc
	hctx   context.Context // the handlers' ctx: ctx with the client's Remote
	sem    chan struct{}   // one token per running handler: MaxInflight
}

// close closes the socket, then ends the handlers' ctx (see Server.Close).
func (sc *serverConn) close() {
	sc.nc.Close()
	sc.cancel()
}

func (sc *serverConn) run() {
	defer sc.s.wg.Done()
	defer sc.s.forget(sc)
	defer sc.close()
	l, err := establish(sc.ctx, sc.nc, &sc.s.cfg, false, "")
	sc.s.gate.leave(sc.ip)
	if err != nil {
		sc.logEnd("peer: rejected connection", err)
		return
	}
	l.w.spawn = sc.s.spawn
	sc.l = l
	sc.hctx = NewContext(sc.ctx, Remote{Name: l.remote, Addr: sc.nc.RemoteAddr()})
	sc.logEnd("peer: closed connection", sc.readLoop())
}

// logEnd logs why a connection ended, unless it ended normally: the client
// hung up between frames, or this side closed it.
func (sc *serverConn) logEnd(msg string, err error) {
	if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) || sc.ctx.Err() != nil {
		return
	}
	sc.s.log.Log(slog.LevelWarn, msg, "remote", sc.nc.RemoteAddr(), "local", sc.nc.LocalAddr(), "err", err)
}

// readLoop reads requests and hands each to a handler goroutine, at most
// MaxInflight at a time, or serves it itself when Config.Inline names it
// and nothing else is buffered (inline). (Handing the reading to a new
// goroutine and serving every request on the one that read it was
// measured slower: the new reader ran on the other core at once and
// contended for the socket with the response being written.)
func (sc *serverConn) readLoop() error {
	for {
		f, err := sc.l.r.next()
		if err != nil {
			return err
		}
		if f.kind != kindRequest {
			return fmt.Errorf("%w: client sent frame kind %d", ErrProtocol, f.kind)
		}
		if !sc.acquire() {
			return sc.ctx.Err()
		}
		if sc.inline(f) {
			sc.handle(f)
			continue
		}
		select {
		case sc.s.work <- job{sc, f}: // a handler goroutine was idle
		default:
			sc.s.wg.Add(1)
			go sc.s.handler(job{sc, f})
		}
	}
}

// inline reports whether the reader serves f itself: Config.Inline says
// its handler does not wait, and no further request has arrived that it
// would hold up. Requests that come while it runs wait in the socket: a
// burst is served in parallel from the next one on. (Under TLS a request
// may also wait in the TLS layer's buffer, unseen here: it is served right
// after, as the one inline does not wait.) An Inline that panics is
// logged and means "no": the request is handed over.
func (sc *serverConn) inline(f frame) (yes bool) {
	in := sc.s.cfg.Inline
	if in == nil || sc.l.r.r.Buffered() > 0 {
		return false
	}
	defer func() {
		if p := recover(); p != nil {
			sc.s.log.Log(slog.LevelError, "peer: Inline panicked", "op", f.op, "panic", p, "stack", string(debug.Stack()))
			yes = false
		}
	}()
	return in(f.op, f.body)
}

// acquire takes a handler slot of the connection (MaxInflight), waiting
// while all are taken; false when the connection closed meanwhile. The
// usual case, a free slot, costs a plain channel send, not a select.
func (sc *serverConn) acquire() bool {
	select {
	case sc.sem <- struct{}{}:
		return true
	default:
	}
	select {
	case sc.sem <- struct{}{}:
		return true
	case <-sc.ctx.Done():
		return false
	}
}

// handlerIdle is how long a handler goroutine waits for the next request
// (of any connection) before it exits. A handler's call path is deep, so
// a fresh goroutine grows, and copies, its stack on nearly every request;
// one that is reused has done so already. With a node replicating every
// write that copying was a tenth of its CPU.
const handlerIdle = time.Second

// job is a request for a handler goroutine.
type job struct {
	sc *serverConn
	f  frame
}

// handler serves j, then the requests idle handlers are handed (work),
// until none comes for handlerIdle or the Server closes. Its idle timer is
// not reset for every request (a timer change costs more than the rest of
// the hand-over): when it fires, the handler exits only if it has been idle
// since the job before, and otherwise waits one more round, so it exits
// between one and two handlerIdle after its last request.
func (s *Server) handler(j job) {
	defer s.wg.Done()
	idle := time.NewTimer(handlerIdle)
	defer idle.Stop()
	for served := true; ; {
		if served {
			j.sc.handle(j.f)
		}
		select {
		case j = <-s.work:
			served = true
		case <-idle.C:
			if !served {
				return
			}
			served = false
			idle.Reset(handlerIdle)
		case <-s.ctx.Done():
			return
		}
	}
}

func (sc *serverConn) handle(req frame) {
	defer func() { <-sc.sem }()
	resp := sc.s.respond(sc.hctx, req)
	if err := sc.l.w.write(&resp); err != nil {
		sc.logEnd("peer: write response", err)
		sc.close() // the reader then ends without logging again
	}
}

// respond runs the handler and builds the frame that answers req.
func (s *Server) respond(ctx context.Context, req frame) frame {
	body, err := s.invoke(ctx, req.op, req.body)
	resp := frame{id: req.id, op: req.op, kind: kindResponse, body: body}
	switch {
	case err != nil:
		code, msg := remoteOf(err)
		resp.kind, resp.status, resp.body = kindError, code, []byte(msg)
	case len(body) > s.cfg.MaxFrame:
		s.log.Log(slog.LevelError, "peer: response exceeds MaxFrame", "op", req.op, "size", len(body), "max", s.cfg.MaxFrame)
		resp.kind, resp.body = kindTooLarge, nil
	}
	return resp
}

// invoke calls the handler, turning a panic into an error: a bug in one
// handler must not take the node down with every session it holds.
func (s *Server) invoke(ctx context.Context, op uint8, body []byte) (resp []byte, err error) {
	defer func() {
		if p := recover(); p != nil {
			s.log.Log(slog.LevelError, "peer: handler panicked", "op", op, "panic", p, "stack", string(debug.Stack()))
			resp, err = nil, Errorf(0, "handler for op %d panicked: %v", op, p)
		}
	}()
	return s.h(ctx, op, body)
}
