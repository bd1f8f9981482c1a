package peer

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"runtime"
	"sync"
	"time"
)

// bufSize is the read buffer of an established connection. It is
// allocated only once the handshake succeeded: the handshake reads its few
// dozen bytes straight from the connection, so a connection that never
// authenticates never costs it.
const bufSize = 32 << 10

// link is one established connection: a frame reader for its one reader
// goroutine and a frame writer shared by every goroutine that sends. The
// client and the server build their connections on it.
type link struct {
	nc     net.Conn
	remote string // the name the other side gave in its hello
	r      frameReader
	w      frameWriter
}

// establish runs the TLS (when configured) and peer handshakes on nc within
// HandshakeTimeout and returns the link; ctx ending aborts it. serverName
// is the dialled host for a client's TLS verification, "" on a server.
func establish(ctx context.Context, raw net.Conn, cfg *Config, client bool, serverName string) (*link, error) {
	stop := context.AfterFunc(ctx, func() { raw.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	raw.SetDeadline(time.Now().Add(cfg.HandshakeTimeout))
	nc, err := wrapTLS(ctx, raw, cfg.TLS, client, serverName)
	if err != nil {
		return nil, fmt.Errorf("tls handshake: %w", err)
	}
	k, remote, err := handshake(nc, cfg, client)
	if err == nil {
		err = verifyName(nc, cfg, remote)
	}
	if err != nil {
		return nil, err
	}
	if !stop() {
		return nil, ctx.Err()
	}
	nc.SetDeadline(time.Time{})
	l := newLink(nc, bufio.NewReaderSize(nc, bufSize), k, cfg)
	l.remote = remote
	return l, nil
}

// handshake runs one side of the peer handshake on nc and returns the
// connection's keys and the other side's name. It reads exactly the
// handshake's bytes, unbuffered, so nothing of the frames that follow is
// consumed before the link's reader exists.
func handshake(nc net.Conn, cfg *Config, client bool) (keys, string, error) {
	if client {
		return clientHandshake(nc, nc, cfg.keys(), cfg.Name)
	}
	return serverHandshake(nc, nc, cfg.keys(), cfg.Name)
}

// verifyName checks the name the other side gave against its certificate
// (Config.VerifyName), on a TLS connection.
func verifyName(nc net.Conn, cfg *Config, remote string) error {
	tc, ok := nc.(*tls.Conn)
	if !ok || cfg.VerifyName == nil {
		return nil
	}
	var leaf *x509.Certificate
	if certs := tc.ConnectionState().PeerCertificates; len(certs) > 0 {
		leaf = certs[0]
	}
	if err := cfg.VerifyName(remote, leaf); err != nil {
		return fmt.Errorf("%w: %.64q: %v", ErrAuth, remote, err)
	}
	return nil
}

func wrapTLS(ctx context.Context, nc net.Conn, conf *tls.Config, client bool, serverName string) (net.Conn, error) {
	if conf == nil {
		return nc, nil
	}
	if !client {
		tc := tls.Server(nc, conf)
		return tc, tc.HandshakeContext(ctx)
	}
	if conf.ServerName == "" {
		conf = conf.Clone()
		conf.ServerName = serverName
	}
	tc := tls.Client(nc, conf)
	return tc, tc.HandshakeContext(ctx)
}

func newLink(nc net.Conn, br *bufio.Reader, k keys, cfg *Config) *link {
	l := &link{nc: nc}
	l.r = frameReader{r: br, maxBody: cfg.MaxFrame, open: k.recv}
	l.w = frameWriter{nc: nc, timeout: cfg.WriteTimeout, seal: k.send}
	l.w.room.L = &l.w.mu
	return l
}

// frameWriter encodes frames onto one connection for many goroutines, and
// batches them. A sender appends its frame to pending under mu; if nobody
// is writing, it becomes the writer and writes pending itself (no hand-over
// to a writer goroutine, which would cost a wake-up on every call). Frames
// that arrive while a write is under way only append and return; when the
// write comes back, the rest of pending goes out in one more write by a
// drain goroutine, so that under load many frames share one system call
// and one TCP segment, and no sender is kept writing frames of others for
// longer than its own write.
type frameWriter struct {
	nc      net.Conn
	timeout time.Duration
	spawn   func(func()) bool // the owner's tracked goroutine helper; false once it closed

	mu      sync.Mutex // guards everything below
	pending []byte     // encoded frames not yet written
	spare   []byte     // the buffer of the last write, to reuse
	seal    *sealer    // nil: plain frames
	writing bool       // a goroutine is writing; it will see to pending too
	err     error      // the first write error; the connection is done
	room    sync.Cond  // on mu: pending was taken by a write, or err was set
}

// maxKeep is the largest buffer kept between writes: one huge frame must
// not pin its buffer for the life of the connection.
const maxKeep = 64 << 10

// maxPending bounds the frames queued behind a write in progress. A sender
// whose frame does not fit waits until the write takes the queue (or
// fails, at the latest after WriteTimeout), so a peer that stops reading
// holds at most this much of a connection's memory beyond the socket
// buffers, not every answer its requests asked for: its handlers block
// instead, and with them (MaxInflight) the reading of its requests.
const maxPending = 1 << 20

// write queues f and writes it, or leaves it to the goroutine writing now.
// An error means the connection is broken; it is then closed.
func (fw *frameWriter) write(f *frame) error {
	fw.mu.Lock()
	defer fw.mu.Unlock()
	for fw.err == nil && fw.writing && len(fw.pending) > 0 && len(fw.pending)+len(f.body) > maxPending {
		fw.waitLocked()
	}
	if fw.err != nil {
		return fw.err
	}
	fw.pending = appendFrame(fw.pending, f, fw.seal)
	if fw.writing {
		return nil
	}
	fw.writing = true
	fw.yieldLocked()
	fw.flushLocked()
	if fw.err == nil && len(fw.pending) > 0 {
		if fw.spawn(fw.drain) {
			return nil // drain clears writing when it is done
		}
		fw.failLocked(net.ErrClosed)
	}
	fw.writing = false
	return fw.err
}

// yieldLocked lets the goroutines that are ready to run go first: the
// handlers a reader just started for a batch of requests, or the callers it
// just answered, append their frames to this write instead of each making
// its own system call. On two cores this halved the write calls and the
// cost per call of 16 concurrent callers, and did not slow a lone call
// (BenchmarkRoundTrip); with nothing else to run it returns at once.
func (fw *frameWriter) yieldLocked() {
	fw.mu.Unlock()
	runtime.Gosched()
	fw.mu.Lock()
}

// drain writes what senders queued during the previous write, until
// nothing is left.
func (fw *frameWriter) drain() {
	fw.mu.Lock()
	defer fw.mu.Unlock()
	for fw.err == nil && len(fw.pending) > 0 {
		fw.flushLocked()
	}
	fw.writing = false
}

// flushLocked writes pending, releasing mu during the system call so that
// other senders can queue behind it.
func (fw *frameWriter) flushLocked() {
	buf := fw.pending
	fw.pending = fw.spare[:0]
	fw.room.Broadcast()
	fw.mu.Unlock()
	fw.nc.SetWriteDeadline(time.Now().Add(fw.timeout))
	_, err := fw.nc.Write(buf)
	fw.mu.Lock()
	if cap(buf) <= maxKeep {
		fw.spare = buf[:0]
	} else {
		fw.spare = nil
	}
	if err != nil {
		fw.failLocked(err)
	}
}

// failLocked records a write error and closes the connection, so that its
// reader fails whatever was waiting for an answer to the frames lost.
func (fw *frameWriter) failLocked(err error) {
	if fw.err == nil {
		fw.err = fmt.Errorf("write: %w", err)
		fw.pending = nil
		fw.nc.Close()
		fw.room.Broadcast()
	}
}

// waitLocked waits for room in pending (see maxPending).
func (fw *frameWriter) waitLocked() { fw.room.Wait() }
