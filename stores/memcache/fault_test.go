package memcache

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sessionmesh/sessionmesh/internal/servertest"
	"github.com/sessionmesh/sessionmesh/internal/testutil"
	"github.com/sessionmesh/sessionmesh/session"
)

// TestDownAtStart: New against a port nobody listens on fails at once with
// an error naming the address.
func TestDownAtStart(t *testing.T) {
	up := servertest.Memcached(t)
	down := "127.0.0.1:" + strconv.Itoa(servertest.FreePort(t))
	s, err := New(Config{Servers: []string{up.Addr(), down}, Timeout: time.Second})
	if err == nil {
		s.Close()
		t.Fatal("New succeeded with one of two servers down")
	}
	if !strings.Contains(err.Error(), "ping") || !strings.Contains(err.Error(), down) {
		t.Fatalf("New: %v; want an error saying it could not ping %s", err, down)
	}
}

// TestServerKilled: a killed server turns requests into 503s (no panic,
// nothing written), and the same Store serves again once the server is back
// on its port. memcached keeps nothing on disk, so the user starts a new
// session.
func TestServerKilled(t *testing.T) {
	srv := servertest.Memcached(t)
	s := open(t, Config{Servers: []string{srv.Addr()}, Timeout: 2 * time.Second})
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
	if body != "1" {
		t.Fatalf("first counter after the restart = %s; want 1 (a new session: memcached lost the old one)", body)
	}
	if code, body := get(); code != http.StatusOK || body != "2" {
		t.Fatalf("second GET after the restart = %d %q; want 200 2", code, body)
	}
}

// TestServerStalled: a server that stops answering (SIGSTOP) costs a call
// its context deadline, or Config.Timeout without one, never a hung request;
// through the middleware it is a 503.
func TestServerStalled(t *testing.T) {
	srv := servertest.Memcached(t)
	s := open(t, Config{Servers: []string{srv.Addr()}, Timeout: 400 * time.Millisecond})
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
	// Cancelled without a deadline (a client that went away): the socket
	// timeout ends the call, and the error says it was cancelled.
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	start := time.Now()
	_, _, err := s.Load(ctx, id)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Load cancelled on a stalled server: %v; want an error wrapping context.Canceled", err)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("cancelled Load took %v; want about Config.Timeout (400ms)", took)
	}

	start = time.Now()
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
		fmt.Fprintf(conn, "version\r\n")
		line, err := bufio.NewReader(conn).ReadString('\n')
		if err == nil {
			return fmt.Errorf("it still answers %q", line)
		}
		return nil
	})
}
