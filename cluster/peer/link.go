package peer

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

const bufSize = 32 << 10

// link is one established connection: a frame reader for its one reader
// goroutine and a frame writer shared by every goroutine that sends. The
// client and the server build their connections on it.
type link struct {
	nc net.Conn
	r  frameReader
	w  frameWriter
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
	br := bufio.NewReaderSize(nc, bufSize)
	k, err := handshake(br, nc, cfg.Secret, client)
	if err != nil {
		return nil, err
	}
	if !stop() {
		return nil, ctx.Err()
	}
	nc.SetDeadline(time.Time{})
	return newLink(nc, br, k, cfg), nil
}

func handshake(br *bufio.Reader, nc net.Conn, secret []byte, client bool) (keys, error) {
	if client {
		return clientHandshake(br, nc, secret)
	}
	return serverHandshake(br, nc, secret)
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
	l.w = frameWriter{nc: nc, timeout: cfg.WriteTimeout, w: bufio.NewWriterSize(nc, bufSize), seal: k.send}
	return l
}

// frameWriter encodes frames onto one connection for many goroutines. Each
// sender encodes and writes under mu itself (no writer goroutine to hand
// over to, which would cost a wake-up per frame); the buffer is flushed by
// the last sender of a burst, the one that sees nobody queued behind it, so
// pipelined frames share one write system call and one TCP segment.
type frameWriter struct {
	nc      net.Conn
	timeout time.Duration
	waiting atomic.Int32 // senders queued on mu

	mu      sync.Mutex // guards w, seal, scratch and err
	w       *bufio.Writer
	seal    *sealer // nil: plain frames
	scratch []byte
	err     error // the first write error; the connection is done
}

// maxScratch is the largest encoding buffer kept between frames: one huge
// frame must not pin its buffer for the life of the connection.
const maxScratch = 64 << 10

// write sends f. An error means the connection is broken (it stays so).
func (fw *frameWriter) write(f *frame) error {
	fw.waiting.Add(1)
	fw.mu.Lock()
	defer fw.mu.Unlock()
	fw.waiting.Add(-1)
	if fw.err != nil {
		return fw.err
	}
	fw.nc.SetWriteDeadline(time.Now().Add(fw.timeout))
	fw.scratch = appendFrame(fw.scratch[:0], f, fw.seal)
	_, err := fw.w.Write(fw.scratch)
	if cap(fw.scratch) > maxScratch {
		fw.scratch = nil
	}
	if err == nil && fw.waiting.Load() == 0 {
		err = fw.w.Flush()
	}
	fw.err = err
	return err
}
