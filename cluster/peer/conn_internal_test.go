package peer

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionmesh/sessionmesh/internal/testutil"
)

var testSecret = []byte("0123456789abcdef0123456789abcdef")

// testServer runs a Server whose handler counts and echoes requests.
type testServer struct {
	*Server
	served atomic.Int32
	logs   testutil.Buffer
}

func newTestServer(t *testing.T, cfg Config) *testServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ts := &testServer{}
	cfg.Logger = slog.New(slog.NewTextHandler(&ts.logs, nil))
	ts.Server, err = NewServer(ln, cfg, func(_ context.Context, _ uint8, body []byte) ([]byte, error) {
		ts.served.Add(1)
		return body, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ts.Close() })
	return ts
}

func (ts *testServer) openConns() int {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return len(ts.conns)
}

func dialRaw(t *testing.T, ts *testServer) net.Conn {
	t.Helper()
	nc, err := net.Dial("tcp", ts.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return nc
}

// closeBudget is how long a test waits for the server to drop a
// connection it must drop: far beyond the timeouts under test, so that a
// busy machine delays the test but does not fail it.
const closeBudget = 20 * time.Second

// expectClosed waits for the server to close nc and returns how long that
// took; data the server sent first (its hello) is skipped.
func expectClosed(t *testing.T, nc net.Conn) time.Duration {
	t.Helper()
	start := time.Now()
	nc.SetReadDeadline(start.Add(closeBudget))
	_, err := io.Copy(io.Discard, nc)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("the server did not close the connection within %v", closeBudget)
	}
	return time.Since(start)
}

// waitNoConns polls until the server has dropped every connection: its
// goroutines for them have ended.
func waitNoConns(t *testing.T, ts *testServer) {
	t.Helper()
	deadline := time.Now().Add(closeBudget)
	for ts.openConns() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("server still holds %d connections", ts.openConns())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// goodCall proves the server still serves a well-behaved client.
func goodCall(t *testing.T, ts *testServer, cfg Config) {
	t.Helper()
	c, err := NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if got, err := c.Call(ctx, ts.Addr().String(), 1, []byte("good")); err != nil || string(got) != "good" {
		t.Fatalf("good client: %q, %v", got, err)
	}
}

func plainHello() []byte { return hello{version: protoVersion}.marshal() }

func TestBadClientsClosed(t *testing.T) {
	const timeout = 300 * time.Millisecond
	oversized := binary.BigEndian.AppendUint32(plainHello(), 0xFFFFFFFF)
	cases := []struct {
		name   string
		secret []byte
		send   []byte
		silent bool // closed by HandshakeTimeout, not at once
	}{
		{"garbage", nil, bytes.Repeat([]byte("GET / HTTP/1.1\r\n"), 4), false},
		{"oversized length prefix", nil, oversized, false},
		{"short frame", nil, binary.BigEndian.AppendUint32(plainHello(), 3), false},
		{"unknown frame kind", nil, append(binary.BigEndian.AppendUint32(plainHello(), 12), make([]byte, 12)...), false},
		{"other protocol version", nil, append([]byte("SMPR\x09\x00\x00\x00"), make([]byte, 32)...), false},
		{"protocol version 1", nil, append([]byte("SMPR\x01\x00\x00\x00"), make([]byte, 32)...), false},
		{"says nothing", nil, nil, true},
		{"half a hello", nil, []byte("SMPR\x02"), true},
		{"hello without the name it announces", nil, append([]byte("SMPR\x02\x00\x05\x00"), make([]byte, 34)...), true},
		{"hello but no proof", testSecret, plainHello(), false}, // flags say no secret: refused at once
		{"secret hello, no proof", testSecret, hello{version: protoVersion, flags: flagSecret}.marshal(), true},
		{"wrong proof", testSecret, append(hello{version: protoVersion, flags: flagSecret}.marshal(), make([]byte, proofSize)...), false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := Config{Secret: tc.secret, HandshakeTimeout: timeout}
			ts := newTestServer(t, cfg)
			nc := dialRaw(t, ts)
			if _, err := nc.Write(tc.send); err != nil {
				t.Fatal(err)
			}
			took := expectClosed(t, nc)
			if tc.silent && took < timeout-50*time.Millisecond {
				t.Errorf("closed after %v, before HandshakeTimeout %v: for what reason?", took, timeout)
			}
			waitNoConns(t, ts)
			goodCall(t, ts, Config{Secret: tc.secret})
			if n := ts.served.Load(); n != 1 {
				t.Errorf("handler ran %d times, want 1 (the good client only)", n)
			}
			if !bytes.Contains([]byte(ts.logs.String()), []byte("peer: rejected connection")) &&
				!bytes.Contains([]byte(ts.logs.String()), []byte("peer: closed connection")) {
				t.Errorf("bad connection not logged; log:\n%s", ts.logs.String())
			}
		})
	}
}

// dialFrom opens a connection to ts from the loopback address ip (Linux
// routes all of 127.0.0.0/8 to loopback), so a test can be many hosts.
func dialFrom(t *testing.T, ts *testServer, ip string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	nc, err := d.Dial("tcp", ts.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return nc
}

// flood opens n connections from ip that never speak, one after another,
// so the server accepts them in this order; it checks that the server
// holds the first held of them in the handshake and closes the others at
// once (HandshakeTimeout is a minute in these tests).
func flood(t *testing.T, ts *testServer, ip string, n, held int) {
	t.Helper()
	conns := make([]net.Conn, n)
	for i := range conns {
		conns[i] = dialFrom(t, ts, ip)
	}
	for i, nc := range conns[held:] {
		if took := expectClosed(t, nc); took > closeBudget/2 {
			t.Fatalf("connection %d from %s closed after %v, not at once", held+i, ip, took)
		}
	}
	for i, nc := range conns[:held] {
		nc.SetReadDeadline(time.Now())
		if _, err := nc.Read(make([]byte, 1)); !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("connection %d from %s, within the caps, was closed: %v", i, ip, err)
		}
	}
}

// dialerFrom is a Config.Dial from the loopback address ip.
func dialerFrom(ip string) func(context.Context, string) (net.Conn, error) {
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	return func(ctx context.Context, addr string) (net.Conn, error) { return d.DialContext(ctx, "tcp", addr) }
}

// TestHandshakeFloodCapped: connections that never speak take at most
// MaxHandshakesPerIP handshake slots per source and MaxHandshakes in all;
// the rest are closed as soon as they are accepted, and a member from
// another address still connects and is served during the flood.
func TestHandshakeFloodCapped(t *testing.T) {
	const perIP, total = 4, 8
	ts := newTestServer(t, Config{Secret: testSecret, HandshakeTimeout: time.Minute, MaxHandshakes: total, MaxHandshakesPerIP: perIP})
	flood(t, ts, "127.0.0.1", 40, perIP)
	if n, fromIP := ts.gate.counts("127.0.0.1"); n != perIP || fromIP != perIP || ts.openConns() != perIP {
		t.Fatalf("server holds %d handshakes (%d from the flooding IP) and %d connections; want %d", n, fromIP, ts.openConns(), perIP)
	}
	goodCall(t, ts, Config{Secret: testSecret, Dial: dialerFrom("127.0.0.2")})

	// A second flooding host fills MaxHandshakes; a third finds no room.
	flood(t, ts, "127.0.0.3", 10, total-perIP)
	flood(t, ts, "127.0.0.4", 5, 0)
	if n, _ := ts.gate.counts(""); n != total {
		t.Fatalf("server holds %d handshakes; want MaxHandshakes, %d", n, total)
	}
	// The log says why (the first refusals; the rest are rate-limited).
	for _, want := range []string{"peer: refused connection", "MaxHandshakesPerIP is 4"} {
		if !strings.Contains(ts.logs.String(), want) {
			t.Errorf("log does not say %q:\n%s", want, ts.logs.String())
		}
	}
}

// renamingConn is a man in the middle: it changes the name in the hello
// the client sends.
type renamingConn struct {
	net.Conn
	from, to string
	done     bool
}

func (c *renamingConn) Write(b []byte) (int, error) {
	if !c.done {
		c.done = true
		n, err := c.Conn.Write(bytes.Replace(b, []byte(c.from), []byte(c.to), 1))
		return min(n, len(b)), err
	}
	return c.Conn.Write(b)
}

// The name in the hello is covered by the proofs: a client's name changed
// on the way fails the handshake on both sides, so a connection speaks for
// the name its client gave or not at all.
func TestHelloNameIsAuthenticated(t *testing.T) {
	ts := newTestServer(t, Config{Secret: testSecret, Name: "server"})
	c, err := NewClient(Config{Secret: testSecret, Name: "node-a", Dial: func(ctx context.Context, addr string) (net.Conn, error) {
		nc, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr)
		if err != nil {
			return nil, err
		}
		return &renamingConn{Conn: nc, from: "node-a", to: "node-b"}, nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := c.Call(ctx, ts.Addr().String(), 1, []byte("x")); !errors.Is(err, ErrAuth) {
		t.Fatalf("call through a renamed hello: %v; want ErrAuth", err)
	}
	waitNoConns(t, ts)
	if n := ts.served.Load(); n != 0 {
		t.Fatalf("the handler ran %d times for a renamed client", n)
	}
	if !strings.Contains(ts.logs.String(), "client proved none of this side's 1 key(s)") {
		t.Fatalf("the server does not log the refusal:\n%s", ts.logs.String())
	}
}

// authConn is a hand-driven client connection to a Server with a secret:
// it writes frames it sealed itself, to replay, reorder or tamper with them.
type authConn struct {
	nc net.Conn
	k  keys
	fr frameReader
}

func dialAuth(t *testing.T, ts *testServer) *authConn {
	t.Helper()
	nc := dialRaw(t, ts)
	br := bufio.NewReader(nc)
	k, _, err := clientHandshake(br, nc, [][]byte{testSecret}, "tester")
	if err != nil {
		t.Fatal(err)
	}
	return &authConn{nc: nc, k: k, fr: frameReader{r: br, maxBody: 1 << 20, open: k.recv}}
}

func (a *authConn) seal(id uint64, body string) []byte {
	return appendFrame(nil, &frame{id: id, kind: kindRequest, op: 1, body: []byte(body)}, a.k.send)
}

func (a *authConn) send(t *testing.T, wire ...[]byte) {
	t.Helper()
	for _, w := range wire {
		if _, err := a.nc.Write(w); err != nil {
			t.Fatal(err)
		}
	}
}

func (a *authConn) expectAnswer(t *testing.T, id uint64, body string) {
	t.Helper()
	a.nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	f, err := a.fr.next()
	if err != nil || f.id != id || f.kind != kindResponse || string(f.body) != body {
		t.Fatalf("answer: %+v, %v; want id %d body %q", f, err, id, body)
	}
}

func TestSealedFrameAttacks(t *testing.T) {
	cases := []struct {
		name   string
		attack func(t *testing.T, a *authConn)
		served int32 // requests the handler must have seen, the first included
	}{
		{"replayed", func(t *testing.T, a *authConn) {
			f := a.seal(2, "pay")
			a.send(t, f)
			a.expectAnswer(t, 2, "pay")
			a.send(t, f)
		}, 2},
		{"reordered", func(t *testing.T, a *authConn) {
			f2, f3 := a.seal(2, "a"), a.seal(3, "b")
			a.send(t, f3, f2)
		}, 1},
		{"tampered", func(t *testing.T, a *authConn) {
			f := a.seal(2, "pay")
			f[len(f)-20] ^= 1
			a.send(t, f)
		}, 1},
		{"dropped", func(t *testing.T, a *authConn) {
			a.seal(2, "lost")
			a.send(t, a.seal(3, "next"))
		}, 1},
		{"plain frame", func(t *testing.T, a *authConn) {
			a.send(t, appendFrame(nil, &frame{id: 2, kind: kindRequest, op: 1}, nil))
		}, 1},
		{"oversized length prefix", func(t *testing.T, a *authConn) {
			a.send(t, []byte{0xff, 0xff, 0xff, 0xff})
		}, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ts := newTestServer(t, Config{Secret: testSecret})
			a := dialAuth(t, ts)
			a.send(t, a.seal(1, "first"))
			a.expectAnswer(t, 1, "first")
			tc.attack(t, a)
			expectClosed(t, a.nc)
			waitNoConns(t, ts)
			if n := ts.served.Load(); n != tc.served {
				t.Fatalf("handler ran %d times, want %d", n, tc.served)
			}
			goodCall(t, ts, Config{Secret: testSecret})
		})
	}
}

func TestSealerDirections(t *testing.T) {
	ch, sh := hello{nonce: [32]byte{1}}.marshal(), hello{nonce: [32]byte{2}}.marshal()
	cSend, cRecv, err := deriveSealers(testSecret, ch, sh, true)
	if err != nil {
		t.Fatal(err)
	}
	sSend, sRecv, err := deriveSealers(testSecret, ch, sh, false)
	if err != nil {
		t.Fatal(err)
	}
	msg := []byte("to the server")
	sealed := cSend.seal(nil, msg)
	if got, err := sRecv.open(append([]byte(nil), sealed...)); err != nil || !bytes.Equal(got, msg) {
		t.Fatalf("server opens client frame: %q, %v", got, err)
	}
	if _, err := cRecv.open(sSend.seal(nil, msg)); err != nil {
		t.Fatalf("client opens server frame: %v", err)
	}
	// A client frame reflected back to the client does not open.
	if _, err := cRecv.open(cSend.seal(nil, msg)); !errors.Is(err, ErrAuth) {
		t.Fatalf("reflected frame: got %v, want ErrAuth", err)
	}
	// Another connection (other nonces) has other keys.
	_, otherRecv, _ := deriveSealers(testSecret, ch, hello{nonce: [32]byte{3}}.marshal(), false)
	if _, err := otherRecv.open(sealed); !errors.Is(err, ErrAuth) {
		t.Fatalf("frame of another connection: got %v, want ErrAuth", err)
	}
}

// TestClientNotReadingCutOff: a client that sends requests but never reads
// the answers cannot pin a server connection (and its handlers) forever:
// once the socket buffers are full, WriteTimeout closes the connection.
func TestClientNotReadingCutOff(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	big := make([]byte, 1<<20)
	var served atomic.Int32
	cfg := Config{WriteTimeout: 200 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	s, err := NewServer(ln, cfg, func(context.Context, uint8, []byte) ([]byte, error) {
		served.Add(1)
		return big, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ts := &testServer{Server: s}
	nc := dialRaw(t, ts)
	if _, err := nc.Write(plainHello()); err != nil {
		t.Fatal(err)
	}
	var reqs []byte
	for id := range uint64(64) { // 64 MiB of answers: far more than socket buffers hold
		reqs = appendFrame(reqs, &frame{id: id, kind: kindRequest, op: 1}, nil)
	}
	if _, err := nc.Write(reqs); err != nil {
		t.Fatal(err)
	}
	// The connection exists once a handler ran; only then does "no
	// connections" mean it was cut off rather than not yet accepted.
	for served.Load() == 0 {
		runtime.Gosched()
	}
	waitNoConns(t, ts)
}

// stuckConn is a connection whose writes wait until the test lets each one
// through; it records the size of every write.
type stuckConn struct {
	net.Conn
	release chan struct{}
	mu      sync.Mutex // guards sizes
	sizes   []int
}

func (c *stuckConn) Write(b []byte) (int, error) {
	c.mu.Lock()
	c.sizes = append(c.sizes, len(b))
	c.mu.Unlock()
	<-c.release
	return len(b), nil
}

func (c *stuckConn) SetWriteDeadline(time.Time) error { return nil }

// TestWriterBoundsPending: frames that senders queue while a write is
// under way wait for room beyond maxPending, so a connection whose peer
// reads slowly (or not at all) does not collect every answer in memory.
func TestWriterBoundsPending(t *testing.T) {
	const frames, size = 64, 256 << 10
	c := &stuckConn{release: make(chan struct{})}
	l := newLink(c, nil, keys{}, &Config{WriteTimeout: time.Minute})
	var wg sync.WaitGroup
	l.w.spawn = func(f func()) bool {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f()
		}()
		return true
	}
	body := make([]byte, size)
	errs := make(chan error, frames)
	for i := range frames {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- l.w.write(&frame{id: uint64(i), kind: kindResponse, body: body})
		}()
	}
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	for {
		select {
		case c.release <- struct{}{}: // one more write goes through
			continue
		case <-done:
		}
		break
	}
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	total, largest := 0, 0
	for _, n := range c.sizes {
		total += n
		largest = max(largest, n)
	}
	if want := frames * (size + lenSize + headerSize); total != want {
		t.Fatalf("wrote %d bytes, want %d", total, want)
	}
	if limit := maxPending + size + lenSize + headerSize; largest > limit {
		t.Fatalf("one write carried %d bytes: senders queued beyond maxPending (%d) while a write was under way", largest, maxPending)
	}
}

// TestSilentConnectionMemory measures what a connection that never
// authenticates costs the server (heap and goroutine stack, with the
// test's own end of the socket, a few hundred bytes): the 32 KiB read
// buffer of an established connection must not be among it.
func TestSilentConnectionMemory(t *testing.T) {
	const n = 200
	ts := newTestServer(t, Config{Secret: testSecret, HandshakeTimeout: time.Minute, MaxHandshakes: n, MaxHandshakesPerIP: n})
	before := inUse()
	goroutines := runtime.NumGoroutine()
	for range n {
		dialRaw(t, ts)
	}
	// Each connection's goroutine allocates what it needs, then blocks
	// reading the hello; nothing tells from outside when all have, so
	// wait for the count and then for the memory in use to settle.
	testutil.Eventually(t, closeBudget, "the server to start every connection", func() bool {
		return ts.openConns() == n && runtime.NumGoroutine() >= goroutines+n
	})
	last := inUse()
	testutil.Poll(2*time.Second, func() bool {
		now := inUse()
		settled := now == last
		last = now
		return settled
	})
	per := (int64(last) - int64(before)) / n
	t.Logf("%d silent connections: %d bytes each (heap and stacks)", n, per)
	if per > 16<<10 {
		t.Fatalf("a silent connection costs %d bytes; want under 16 KiB (no read buffer before authentication)", per)
	}
}

// inUse is the heap and stack memory in use after a collection.
func inUse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc + m.StackInuse
}
