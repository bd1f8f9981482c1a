package redis

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sessionmesh/sessionmesh/httpmw"
	"github.com/sessionmesh/sessionmesh/internal/servertest"
	"github.com/sessionmesh/sessionmesh/internal/testutil"
	"github.com/sessionmesh/sessionmesh/session"
)

// TestDownAtStart: New against a port nobody listens on fails at once with
// an error naming the address.
func TestDownAtStart(t *testing.T) {
	addr := "127.0.0.1:" + strconv.Itoa(servertest.FreePort(t))
	start := time.Now()
	s, err := New(Config{Addrs: []string{addr}, DialTimeout: 500 * time.Millisecond})
	if err == nil {
		s.Close()
		t.Fatal("New succeeded with no server")
	}
	if !strings.Contains(err.Error(), "ping "+addr) {
		t.Fatalf("New: %v; want an error saying it could not ping %s", err, addr)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("New took %v to give up", d)
	}
}

// counterSite serves the demo's counter behind the middleware (every request
// adds one to the session's counter and prints it) and returns a function
// that requests it as one browser would, with the status and body.
func counterSite(t *testing.T, st session.Store) func() (int, string) {
	t.Helper()
	cfg := session.DefaultConfig(st)
	cfg.Logger = discardLogger()
	m, err := session.NewManager(cfg)
	if err != nil {
		t.Fatal(err)
	}
	h := httpmw.New(m)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := session.FromContext(r.Context())
		n, _ := session.Get[int](s, "n")
		if err := s.Set("n", n+1); err != nil {
			return // the middleware answers with the store's error
		}
		fmt.Fprint(w, n+1)
	}))
	ts := httptest.NewServer(h)
	t.Cleanup(ts.Close)
	c := ts.Client()
	c.Jar, _ = cookiejar.New(nil)
	c.Timeout = 10 * time.Second
	return func() (int, string) {
		t.Helper()
		resp, err := c.Get(ts.URL)
		if err != nil {
			t.Fatalf("GET: %v", err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, strings.TrimSpace(string(body))
	}
}

// TestServerKilled: a killed server turns requests into 503s (no panic, no
// half-written session), and the same Store serves again once the server is
// back on its port, with the session as it was before the kill.
func TestServerKilled(t *testing.T) {
	// AOF with fsync on every write: the restarted server has what was
	// acknowledged before the kill.
	srv := servertest.Redis(t, servertest.WithArgs("--appendonly", "yes", "--appendfsync", "always"))
	s := open(t, Config{Addrs: []string{srv.Addr()}, DialTimeout: 2 * time.Second, Timeout: 2 * time.Second})
	get := counterSite(t, s)
	for want := 1; want <= 2; want++ {
		if code, body := get(); code != http.StatusOK || body != strconv.Itoa(want) {
			t.Fatalf("GET = %d %q; want 200 %d", code, body, want)
		}
	}

	srv.Kill()
	if _, _, err := s.Load(context.Background(), session.NewID()); err == nil || !strings.Contains(err.Error(), srv.Addr()) {
		t.Fatalf("Load with the server killed: %v; want an error naming %s", err, srv.Addr())
	}
	for range 3 {
		if code, body := get(); code != http.StatusServiceUnavailable {
			t.Fatalf("GET with the server killed = %d %q; want 503", code, body)
		}
	}

	srv.Restart()
	var code int
	var body string
	testutil.EventuallyNil(t, 5*time.Second, "the store to recover", func() error {
		if code, body = get(); code != http.StatusOK {
			return fmt.Errorf("GET = %d %q", code, body)
		}
		return nil
	})
	if body != "3" {
		t.Fatalf("first counter after the restart = %s; want 3 (the session as acknowledged before the kill, the failed requests not counted)", body)
	}
}

// TestServerStalled: a server that stops answering (SIGSTOP) costs a call
// its context deadline, or Config.Timeout without one, never a hung request;
// through the middleware it is a 503.
func TestServerStalled(t *testing.T) {
	srv := servertest.Redis(t)
	s := open(t, Config{Addrs: []string{srv.Addr()}, Timeout: 400 * time.Millisecond})
	id := mustCreate(t, s, patchAt(time.Now(), "a", "1"))
	get := counterSite(t, s)
	get()

	srv.Stop()
	waitStalled(t, srv.Addr())
	calls := map[string]func(context.Context) error{
		"Load":   func(ctx context.Context) error { _, _, err := s.Load(ctx, id); return err },
		"Save":   func(ctx context.Context) error { _, err := s.Save(ctx, id, patchAt(time.Now(), "b", "2")); return err },
		"Delete": func(ctx context.Context) error { return s.Delete(ctx, session.NewID()) },
	}
	for name, call := range calls {
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		start := time.Now()
		err := call(ctx)
		took := time.Since(start)
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("%s on a stalled server: %v; want an error wrapping context.DeadlineExceeded", name, err)
		}
		if took > 350*time.Millisecond {
			t.Errorf("%s took %v with a 100ms deadline", name, took)
		}
	}
	start := time.Now()
	if code, body := get(); code != http.StatusServiceUnavailable {
		t.Errorf("GET on a stalled server = %d %q; want 503", code, body)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("GET on a stalled server took %v; want about Config.Timeout (400ms)", took)
	}

	srv.Cont()
	testutil.EventuallyNil(t, 5*time.Second, "the store to recover", func() error {
		_, _, err := s.Load(context.Background(), id)
		return err
	})
}

// waitStalled waits until the server at addr has stopped answering: SIGSTOP
// is delivered asynchronously, and a server still running for a moment
// would answer the first call of the test.
func waitStalled(t *testing.T, addr string) {
	t.Helper()
	testutil.EventuallyNil(t, 5*time.Second, "the server to stall", func() error {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			return err
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(100 * time.Millisecond))
		fmt.Fprintf(conn, "PING\r\n")
		line, err := bufio.NewReader(conn).ReadString('\n')
		if err == nil {
			return fmt.Errorf("it still answers %q", line)
		}
		return nil
	})
}
