package peer_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/sessionmesh/sessionmesh/cluster/peer"
	"github.com/sessionmesh/sessionmesh/internal/testutil"
	"github.com/sessionmesh/sessionmesh/session"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var secret = []byte("0123456789abcdef0123456789abcdef")

// countingListener counts accepted connections.
type countingListener struct {
	net.Listener
	accepted atomic.Int32
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.accepted.Add(1)
	}
	return c, err
}

func listen(t testing.TB, addr string) *countingListener {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("listen %s: %v", addr, err)
	}
	return &countingListener{Listener: ln}
}

func startServer(t testing.TB, cfg peer.Config, h peer.Handler) (*peer.Server, *countingListener) {
	t.Helper()
	ln := listen(t, "127.0.0.1:0")
	s, err := peer.NewServer(ln, cfg, h)
	if err != nil {
		t.Fatalf("NewServer: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s, ln
}

func newClient(t testing.TB, cfg peer.Config) *peer.Client {
	t.Helper()
	c, err := peer.NewClient(cfg)
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// echo answers op followed by the request body.
func echo(_ context.Context, op uint8, body []byte) ([]byte, error) {
	return append([]byte{op}, body...), nil
}

// always is a Config.Inline for handlers that never wait.
func always(uint8, []byte) bool { return true }

func ctxTimeout(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func logTo(b *testutil.Buffer) *slog.Logger { return slog.New(slog.NewTextHandler(b, nil)) }

func TestRoundTrip(t *testing.T) {
	tlsServer, tlsClient := testTLS(t)
	cases := []struct {
		name           string
		server, client peer.Config
	}{
		{"plain", peer.Config{}, peer.Config{}},
		{"secret", peer.Config{Secret: secret}, peer.Config{Secret: secret}},
		{"tls+secret", peer.Config{Secret: secret, TLS: tlsServer}, peer.Config{Secret: secret, TLS: tlsClient}},
		{"secret+inline", peer.Config{Secret: secret, Inline: always}, peer.Config{Secret: secret}},
		{"tls+secret+inline", peer.Config{Secret: secret, TLS: tlsServer, Inline: always}, peer.Config{Secret: secret, TLS: tlsClient}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.server.MaxFrame, tc.client.MaxFrame = 1<<20, 1<<20
			s, _ := startServer(t, tc.server, echo)
			c := newClient(t, tc.client)
			bodies := [][]byte{nil, []byte("x"), bytes.Repeat([]byte("session"), 300), make([]byte, 1<<20-1)}
			for i, body := range bodies {
				op := uint8(i + 7)
				got, err := c.Call(ctxTimeout(t, 5*time.Second), s.Addr().String(), op, body)
				if err != nil {
					t.Fatalf("Call op %d with %d bytes: %v", op, len(body), err)
				}
				if want := append([]byte{op}, body...); !bytes.Equal(got, want) {
					t.Fatalf("Call op %d with %d bytes: got %d bytes %.16q, want %d bytes", op, len(body), len(got), got, len(want))
				}
			}
		})
	}
}

// TestPipelined proves that 1000 calls are in flight at once on one
// connection: the handler holds every request until all 1000 have arrived.
func TestPipelined(t *testing.T) {
	const n = 1000
	var arrived atomic.Int32
	all := make(chan struct{})
	h := func(ctx context.Context, op uint8, body []byte) ([]byte, error) {
		if arrived.Add(1) == n {
			close(all)
		}
		select {
		case <-all:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		return append([]byte("re:"), body...), nil
	}
	s, ln := startServer(t, peer.Config{Secret: secret}, h)
	c := newClient(t, peer.Config{Secret: secret, ConnsPerPeer: 1})
	ctx := ctxTimeout(t, 20*time.Second)
	errs := make(chan error, n)
	for i := range n {
		go func() {
			body := fmt.Appendf(nil, "call %d", i)
			got, err := c.Call(ctx, s.Addr().String(), 1, body)
			if err == nil && string(got) != "re:"+string(body) {
				err = fmt.Errorf("call %d got %q", i, got)
			}
			errs <- err
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if got := ln.accepted.Load(); got != 1 {
		t.Fatalf("server accepted %d connections, want 1", got)
	}
}

func TestHandlerErrors(t *testing.T) {
	logs := &testutil.Buffer{}
	h := func(ctx context.Context, op uint8, body []byte) ([]byte, error) {
		switch op {
		case 1:
			return nil, peer.Errorf(42, "no session %s", body)
		case 2:
			return nil, errors.New("disk on fire")
		case 3:
			return nil, fmt.Errorf("load: %w", peer.Errorf(7, "stale epoch"))
		case 4:
			panic("handler bug")
		case 5:
			return make([]byte, 1025), nil
		}
		return []byte("ok"), nil
	}
	s, _ := startServer(t, peer.Config{MaxFrame: 1024, Logger: logTo(logs)}, h)
	c := newClient(t, peer.Config{MaxFrame: 1024})
	cases := []struct {
		op   uint8
		code uint16
		msg  string
	}{
		{1, 42, "no session abc"},
		{2, 0, "disk on fire"},
		{3, 7, "stale epoch"},
		{4, 0, "handler for op 4 panicked: handler bug"},
	}
	for _, tc := range cases {
		_, err := c.Call(ctxTimeout(t, 5*time.Second), s.Addr().String(), tc.op, []byte("abc"))
		var re *peer.RemoteError
		if !errors.As(err, &re) || re.Code != tc.code || re.Msg != tc.msg {
			t.Fatalf("op %d: got %v, want RemoteError{%d, %q}", tc.op, err, tc.code, tc.msg)
		}
		if errors.Is(err, peer.ErrUnavailable) {
			t.Fatalf("op %d: a handler error must not look like a transport failure: %v", tc.op, err)
		}
	}
	if !strings.Contains(logs.String(), "handler bug") {
		t.Errorf("the panic was not logged; log:\n%s", logs)
	}
	_, err := c.Call(ctxTimeout(t, 5*time.Second), s.Addr().String(), 5, nil)
	if !errors.Is(err, peer.ErrFrameTooLarge) || errors.Is(err, peer.ErrUnavailable) {
		t.Fatalf("response over MaxFrame: got %v, want ErrFrameTooLarge", err)
	}
	// The connection survived all of it.
	if got, err := c.Call(ctxTimeout(t, 5*time.Second), s.Addr().String(), 9, nil); err != nil || string(got) != "ok" {
		t.Fatalf("call after handler errors: %q, %v", got, err)
	}
}

func TestRequestTooLarge(t *testing.T) {
	same := func(_ context.Context, _ uint8, body []byte) ([]byte, error) { return body, nil }
	s, ln := startServer(t, peer.Config{MaxFrame: 100}, same)
	c := newClient(t, peer.Config{MaxFrame: 100})
	_, err := c.Call(ctxTimeout(t, 5*time.Second), s.Addr().String(), 1, make([]byte, 101))
	if !errors.Is(err, peer.ErrFrameTooLarge) {
		t.Fatalf("request over MaxFrame: got %v, want ErrFrameTooLarge", err)
	}
	if n := ln.accepted.Load(); n != 0 {
		t.Fatalf("a request over MaxFrame dialled the server (%d connections)", n)
	}
	if _, err := c.Call(ctxTimeout(t, 5*time.Second), s.Addr().String(), 1, make([]byte, 100)); err != nil {
		t.Fatalf("request of exactly MaxFrame: %v", err)
	}
}

// TestServerMaxFrameSmaller: a client configured with a larger MaxFrame
// than the server gets its connection closed by the server, not a hang.
func TestServerMaxFrameSmaller(t *testing.T) {
	s, _ := startServer(t, peer.Config{MaxFrame: 100, Logger: logTo(&testutil.Buffer{})}, echo)
	c := newClient(t, peer.Config{MaxFrame: 1000})
	_, err := c.Call(ctxTimeout(t, 5*time.Second), s.Addr().String(), 1, make([]byte, 500))
	if !errors.Is(err, peer.ErrUnavailable) || errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v, want ErrUnavailable from the closed connection", err)
	}
	if _, err := c.Call(ctxTimeout(t, 5*time.Second), s.Addr().String(), 1, make([]byte, 50)); err != nil {
		t.Fatalf("call after the server cut a connection: %v", err)
	}
}

func TestCallContext(t *testing.T) {
	release := make(chan struct{})
	h := func(ctx context.Context, op uint8, body []byte) ([]byte, error) {
		if op == 1 {
			<-release
		}
		return body, nil
	}
	s, _ := startServer(t, peer.Config{}, h)
	c := newClient(t, peer.Config{ConnsPerPeer: 1})
	addr := s.Addr().String()

	start := time.Now()
	_, err := c.Call(ctxTimeout(t, 50*time.Millisecond), addr, 1, nil)
	if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, peer.ErrUnavailable) {
		t.Fatalf("slow handler: got %v, want DeadlineExceeded and ErrUnavailable", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("Call returned %v after its 50ms deadline", d)
	}
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.Call(canceled, addr, 2, nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("canceled ctx: got %v, want context.Canceled", err)
	}
	close(release) // the late answer to the first call must be dropped
	got, err := c.Call(ctxTimeout(t, 5*time.Second), addr, 2, []byte("after"))
	if err != nil || string(got) != "after" {
		t.Fatalf("call after a timed-out call: %q, %v", got, err)
	}
}

// A ctx cancelled while its call waits ends the call with the cause, both
// early in the wait (before the call watches Done) and later (once it
// does), whether or not the ctx has a deadline: it does not wait for the
// deadline or the answer.
func TestCallCanceledWhileWaiting(t *testing.T) {
	release := make(chan struct{})
	entered := make(chan struct{}, 1)
	h := func(ctx context.Context, op uint8, body []byte) ([]byte, error) {
		if op == 1 {
			entered <- struct{}{}
			<-release
		}
		return body, nil
	}
	s, _ := startServer(t, peer.Config{}, h)
	defer close(release) // before the server's Close waits for its handlers
	c := newClient(t, peer.Config{ConnsPerPeer: 1})
	addr := s.Addr().String()
	// Dial first, so that from here on only the wait for an answer asks
	// for a ctx's Done (waiting for a dial does too).
	if _, err := c.Call(ctxTimeout(t, 5*time.Second), addr, 2, nil); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		parent   context.Context
		watching bool // cancel once the call watches Done, not at once
	}{
		{"no deadline, at once", context.Background(), false},
		{"deadline, at once", ctxTimeout(t, time.Hour), false},
		{"no deadline, once watched", context.Background(), true},
		{"deadline, once watched", ctxTimeout(t, time.Hour), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			inner, cancel := context.WithCancel(tc.parent)
			defer cancel()
			ctx := &doneWatcher{Context: inner, watched: make(chan struct{})}
			errc := make(chan error, 1)
			go func() {
				_, err := c.Call(ctx, addr, 1, nil)
				errc <- err
			}()
			<-entered
			if tc.watching {
				select {
				case <-ctx.watched:
				case <-time.After(time.Minute):
					t.Fatal("the call did not watch its ctx's Done within a minute of waiting")
				}
			}
			cancel()
			select {
			case err := <-errc:
				if !errors.Is(err, context.Canceled) || !errors.Is(err, peer.ErrUnavailable) {
					t.Fatalf("got %v, want Canceled and ErrUnavailable", err)
				}
			case <-time.After(time.Minute):
				t.Fatal("Call still waiting a minute after its ctx was cancelled")
			}
		})
	}
}

// doneWatcher is a ctx that closes watched the first time something asks
// for its Done.
type doneWatcher struct {
	context.Context
	once    sync.Once
	watched chan struct{}
}

func (w *doneWatcher) Done() <-chan struct{} {
	w.once.Do(func() { close(w.watched) })
	return w.Context.Done()
}

func TestServerKilledMidCall(t *testing.T) {
	entered := make(chan struct{}, 3)
	block := func(ctx context.Context, op uint8, body []byte) ([]byte, error) {
		if op == 1 {
			entered <- struct{}{}
			<-ctx.Done()
			return nil, ctx.Err()
		}
		return body, nil
	}
	s, ln := startServer(t, peer.Config{Secret: secret}, block)
	addr := ln.Addr().String()
	c := newClient(t, peer.Config{Secret: secret})
	errs := make(chan error, 3)
	for range 3 {
		go func() {
			_, err := c.Call(ctxTimeout(t, 30*time.Second), addr, 1, nil)
			errs <- err
		}()
	}
	for range 3 {
		<-entered
	}
	start := time.Now()
	s.Close()
	for range 3 {
		err := <-errs
		if !errors.Is(err, peer.ErrUnavailable) || errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("in-flight call: got %v, want ErrUnavailable without a timeout", err)
		}
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("in-flight calls failed %v after the server died, want at once", d)
	}
	if _, err := c.Call(ctxTimeout(t, 5*time.Second), addr, 2, nil); !errors.Is(err, peer.ErrUnavailable) {
		t.Fatalf("call to a dead server: got %v, want ErrUnavailable", err)
	}

	s2, err := peer.NewServer(listen(t, addr), peer.Config{Secret: secret}, block)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	for i := range 3 { // every slot redials
		got, err := c.Call(ctxTimeout(t, 5*time.Second), addr, 2, []byte("back"))
		if err != nil || string(got) != "back" {
			t.Fatalf("call %d after restart: %q, %v", i, got, err)
		}
	}
}

func TestWrongSecret(t *testing.T) {
	other := []byte("another secret of 32 bytes......")
	var served atomic.Int32
	h := func(ctx context.Context, op uint8, body []byte) ([]byte, error) {
		served.Add(1)
		return body, nil
	}
	cases := []struct {
		name           string
		server, client []byte
		serverLog      string
	}{
		{"client has another secret", secret, other, "client proved none of this side's 1 key(s)"},
		{"server has another secret", other, secret, "client proved none of this side's 1 key(s)"},
		{"client has none", secret, nil, "other side has no secret"},
		{"server has none", nil, secret, "other side requires a secret"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			logs := &testutil.Buffer{}
			s, _ := startServer(t, peer.Config{Secret: tc.server, Logger: logTo(logs)}, h)
			good := newClient(t, peer.Config{Secret: tc.server})
			bad := newClient(t, peer.Config{Secret: tc.client})
			served.Store(0)
			for range 3 {
				_, err := bad.Call(ctxTimeout(t, 5*time.Second), s.Addr().String(), 1, []byte("steal"))
				if !errors.Is(err, peer.ErrAuth) || !errors.Is(err, peer.ErrUnavailable) {
					t.Fatalf("bad client: got %v, want ErrAuth and ErrUnavailable", err)
				}
				got, err := good.Call(ctxTimeout(t, 5*time.Second), s.Addr().String(), 1, []byte("hi"))
				if err != nil || string(got) != "hi" {
					t.Fatalf("good client next to a bad one: %q, %v", got, err)
				}
			}
			if n := served.Load(); n != 3 {
				t.Fatalf("handler ran %d times, want 3 (the good client's calls only)", n)
			}
			testutil.Eventually(t, 5*time.Second, "the rejection in the server log", func() bool { return strings.Contains(logs.String(), tc.serverLog) })
		})
	}
}

// Key rotation: a side with [new, old] talks to one with [old] and to one
// with [new], in both roles, and every step of a rotation (add the new key
// second, make it first, drop the old) talks to the steps next to it. Two
// sides without a common key are refused, and the server's log says why
// without showing a key.
func TestSecretListsInteroperate(t *testing.T) {
	old, next := []byte("the old cluster key, 32 bytes..."), []byte("the new cluster key, 32 bytes...")
	steps := map[string][][]byte{
		"[old]": {old}, "[old new]": {old, next}, "[new old]": {next, old}, "[new]": {next},
	}
	refused := map[[2]string]bool{{"[old]", "[new]"}: true, {"[new]", "[old]"}: true}
	for sname, skeys := range steps {
		for cname, ckeys := range steps {
			t.Run("server "+sname+" client "+cname, func(t *testing.T) {
				logs := &testutil.Buffer{}
				s, _ := startServer(t, peer.Config{Secrets: skeys, Logger: logTo(logs)}, echo)
				c := newClient(t, peer.Config{Secrets: ckeys})
				got, err := c.Call(ctxTimeout(t, 5*time.Second), s.Addr().String(), 7, []byte("hi"))
				if !refused[[2]string{sname, cname}] {
					if err != nil || string(got) != "\x07hi" {
						t.Fatalf("call = %q, %v; want an answer", got, err)
					}
					return
				}
				if !errors.Is(err, peer.ErrAuth) || !strings.Contains(err.Error(), "none of this side's 1") {
					t.Fatalf("call = %q, %v; want ErrAuth saying the server proved none of the client's keys", got, err)
				}
				testutil.Eventually(t, 5*time.Second, "the rejection in the server log", func() bool {
					return strings.Contains(logs.String(), "client proved none of this side's 1 key(s)")
				})
				if strings.Contains(logs.String(), "cluster key") {
					t.Fatalf("the server log shows a key: %s", logs.String())
				}
			})
		}
	}
}

// SetSecrets changes the keys of a running Server and Client: connections
// made afterwards use the new list, and the one established before keeps
// working.
func TestSetSecretsWhileServing(t *testing.T) {
	old, next := []byte("the old cluster key, 32 bytes..."), []byte("the new cluster key, 32 bytes...")
	s, ln := startServer(t, peer.Config{Secret: old}, echo)
	before := newClient(t, peer.Config{Secret: old, ConnsPerPeer: 1})
	call := func(c *peer.Client) error {
		_, err := c.Call(ctxTimeout(t, 5*time.Second), s.Addr().String(), 1, nil)
		return err
	}
	if err := call(before); err != nil {
		t.Fatal(err)
	}
	if err := s.SetSecrets([][]byte{next}); err != nil {
		t.Fatal(err)
	}
	if err := call(before); err != nil || ln.accepted.Load() != 1 {
		t.Fatalf("the connection made with the old key: %v after %d connections; want it kept", err, ln.accepted.Load())
	}
	if err := call(newClient(t, peer.Config{Secret: old})); !errors.Is(err, peer.ErrAuth) {
		t.Fatalf("a new client with the dropped key: %v; want ErrAuth", err)
	}
	if err := before.SetSecrets([][]byte{next, old}); err != nil {
		t.Fatal(err)
	}
	before.CloseAddr(s.Addr().String())
	if err := call(before); err != nil {
		t.Fatalf("redialled with the new key: %v", err)
	}
	for name, list := range map[string][][]byte{"a short key": {[]byte("short")}, "a key twice": {next, next}, "no key": nil} {
		if err := s.SetSecrets(list); !errors.Is(err, session.ErrInvalidConfig) {
			t.Errorf("SetSecrets with %s: %v; want ErrInvalidConfig", name, err)
		}
	}
}

func TestCloseAddr(t *testing.T) {
	entered := make(chan struct{}, 1)
	h := func(ctx context.Context, op uint8, body []byte) ([]byte, error) {
		if op == 1 {
			entered <- struct{}{}
			<-ctx.Done()
		}
		return body, nil
	}
	s, ln := startServer(t, peer.Config{}, h)
	c := newClient(t, peer.Config{ConnsPerPeer: 1})
	errs := make(chan error, 1)
	go func() {
		_, err := c.Call(ctxTimeout(t, 30*time.Second), s.Addr().String(), 1, nil)
		errs <- err
	}()
	<-entered
	c.CloseAddr(s.Addr().String())
	if err := <-errs; !errors.Is(err, peer.ErrUnavailable) || errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("in-flight call on a dropped peer: got %v, want ErrUnavailable at once", err)
	}
	if _, err := c.Call(ctxTimeout(t, 5*time.Second), s.Addr().String(), 2, nil); err != nil {
		t.Fatalf("call after CloseAddr: %v", err)
	}
	if n := ln.accepted.Load(); n != 2 {
		t.Fatalf("server accepted %d connections, want 2 (one redial after CloseAddr)", n)
	}
	c.CloseAddr("127.0.0.1:1") // unknown address: nothing to do
}

func TestClose(t *testing.T) {
	s, _ := startServer(t, peer.Config{}, echo)
	c, err := peer.NewClient(peer.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Call(ctxTimeout(t, 5*time.Second), s.Addr().String(), 1, nil); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("second Client.Close: %v", err)
	}
	if _, err := c.Call(ctxTimeout(t, 5*time.Second), s.Addr().String(), 1, nil); !errors.Is(err, peer.ErrClosed) {
		t.Fatalf("Call after Close: got %v, want ErrClosed", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Server.Close: %v", err)
	}
}

func TestRefused(t *testing.T) {
	ln := listen(t, "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	c := newClient(t, peer.Config{})
	if _, err := c.Call(ctxTimeout(t, 5*time.Second), addr, 1, nil); !errors.Is(err, peer.ErrUnavailable) {
		t.Fatalf("call to a closed port: got %v, want ErrUnavailable", err)
	}
}

func TestDialTimeout(t *testing.T) {
	hang := func(ctx context.Context, addr string) (net.Conn, error) {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	c := newClient(t, peer.Config{Dial: hang, DialTimeout: 50 * time.Millisecond})
	start := time.Now()
	_, err := c.Call(ctxTimeout(t, 5*time.Second), "10.255.255.1:7946", 1, nil)
	if !errors.Is(err, peer.ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("dial that hangs: got %v, want ErrUnavailable after DialTimeout", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("dial gave up after %v, want about DialTimeout", d)
	}
}

func TestConfigValidate(t *testing.T) {
	cases := []struct {
		field string
		cfg   peer.Config
	}{
		{"Secret", peer.Config{Secret: []byte("short")}},
		{"Secrets[1]", peer.Config{Secrets: [][]byte{secret, []byte("short")}}},
		{"Secrets[1]", peer.Config{Secrets: [][]byte{secret, secret}}},
		{"Secrets", peer.Config{Secrets: [][]byte{secret, secret[1:], secret[2:], secret[3:], secret[4:]}}},
		{"Secret", peer.Config{Secret: secret, Secrets: [][]byte{secret}}},
		{"MaxFrame", peer.Config{MaxFrame: -1}},
		{"MaxFrame", peer.Config{MaxFrame: 2 << 30}},
		{"DialTimeout", peer.Config{DialTimeout: -time.Second}},
		{"HandshakeTimeout", peer.Config{HandshakeTimeout: -1}},
		{"WriteTimeout", peer.Config{WriteTimeout: -1}},
		{"ConnsPerPeer", peer.Config{ConnsPerPeer: 65}},
		{"MaxInflight", peer.Config{MaxInflight: -1}},
		{"MaxHandshakes", peer.Config{MaxHandshakes: -1}},
		{"MaxHandshakesPerIP", peer.Config{MaxHandshakesPerIP: -1}},
		{"Name", peer.Config{Name: strings.Repeat("n", peer.MaxName+1)}},
	}
	for _, tc := range cases {
		err := tc.cfg.Validate()
		if !errors.Is(err, session.ErrInvalidConfig) || !strings.Contains(err.Error(), tc.field) {
			t.Errorf("%+v: got %v, want ErrInvalidConfig naming %s", tc.cfg, err, tc.field)
		}
		if _, err := peer.NewClient(tc.cfg); !errors.Is(err, session.ErrInvalidConfig) {
			t.Errorf("NewClient(%+v): got %v, want ErrInvalidConfig", tc.cfg, err)
		}
	}
	def := peer.DefaultConfig()
	if err := def.Validate(); err != nil {
		t.Fatalf("DefaultConfig does not validate: %v", err)
	}
	if def.MaxFrame != 4<<20 || def.DialTimeout != time.Second || def.HandshakeTimeout != 2*time.Second || def.ConnsPerPeer != 2 ||
		def.MaxHandshakes != 256 || def.MaxHandshakesPerIP != 32 {
		t.Fatalf("DefaultConfig = %+v, want the documented defaults", def)
	}
	if _, err := peer.NewServer(nil, peer.Config{}, echo); err == nil {
		t.Fatal("NewServer without a listener succeeded")
	}
}

// A handler finds the name the client gave in its Config, and its address,
// in its ctx; each connection carries its own client's name.
func TestHandlerSeesRemoteName(t *testing.T) {
	for name, sec := range map[string][]byte{"secret": secret, "plain": nil} {
		t.Run(name, func(t *testing.T) {
			s, _ := startServer(t, peer.Config{Secret: sec, Name: "server-1"}, func(ctx context.Context, _ uint8, _ []byte) ([]byte, error) {
				r, ok := peer.FromContext(ctx)
				if !ok || r.Addr == nil {
					return nil, fmt.Errorf("no remote in the handler's ctx: %+v %v", r, ok)
				}
				return []byte(r.Name), nil
			})
			for _, client := range []string{"node-a", "node-b", ""} {
				c := newClient(t, peer.Config{Secret: sec, Name: client})
				got, err := c.Call(ctxTimeout(t, 5*time.Second), s.Addr().String(), 1, nil)
				if err != nil || string(got) != client {
					t.Fatalf("client %q: handler saw %q, %v", client, got, err)
				}
			}
		})
	}
	if _, ok := peer.FromContext(context.Background()); ok {
		t.Fatal("a ctx no Server made carries a Remote")
	}
}

// TestInline: a request Config.Inline names is served on the goroutine
// that read it, even while a handed-over request of the same connection
// waits; any other request goes to a handler goroutine.
func TestInline(t *testing.T) {
	const slow = 2
	entered, release := make(chan struct{}), make(chan struct{})
	h := func(ctx context.Context, op uint8, body []byte) ([]byte, error) {
		onReader := strings.Contains(string(debug.Stack()), ").readLoop(") // a frame, not "created by"
		if op == slow {
			close(entered)
			select {
			case <-release:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		return strconv.AppendBool(nil, onReader), nil
	}
	const broken = 3 // its Inline panics
	inline := func(op uint8, body []byte) bool {
		if op == broken {
			panic("inline bug")
		}
		return op != slow && string(body) == "fast"
	}
	logs := &testutil.Buffer{}
	s, _ := startServer(t, peer.Config{Secret: secret, Inline: inline, Logger: logTo(logs)}, h)
	c := newClient(t, peer.Config{Secret: secret, ConnsPerPeer: 1})
	ctx := ctxTimeout(t, 10*time.Second)
	addr := s.Addr().String()
	call := func(op uint8, body string) string {
		t.Helper()
		got, err := c.Call(ctx, addr, op, []byte(body))
		if err != nil {
			t.Fatalf("op %d %q: %v", op, body, err)
		}
		return string(got)
	}

	slowDone := make(chan string, 1)
	go func() {
		got, err := c.Call(ctx, addr, slow, []byte("fast"))
		slowDone <- fmt.Sprint(string(got), err)
	}()
	<-entered
	for i := range 20 {
		if got := call(1, "fast"); got != "true" {
			t.Fatalf("call %d Inline names, while another waits in a handler: served on the reader = %s, want true", i, got)
		}
	}
	if got := call(1, "other"); got != "false" {
		t.Fatalf("a call Inline refuses: served on the reader = %s, want false", got)
	}
	if got := call(broken, "fast"); got != "false" {
		t.Fatalf("a call whose Inline panics: served on the reader = %s, want false", got)
	}
	if !strings.Contains(logs.String(), "Inline panicked") {
		t.Fatalf("the Inline panic was not logged: %q", logs.String())
	}
	close(release)
	if got := <-slowDone; got != "false<nil>" {
		t.Fatalf("the waiting call (op Inline refuses): got %q, want false and no error", got)
	}
}
