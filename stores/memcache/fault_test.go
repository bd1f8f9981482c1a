package memcache

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sessionmesh/sessionmesh/internal/servertest"
	"github.com/sessionmesh/sessionmesh/internal/testutil"
	"github.com/sessionmesh/sessionmesh/stores/internal/storetesting"
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
	get := storetesting.CounterSite(t, s)
	for want := 1; want <= 2; want++ {
		if code, body := get(); code != http.StatusOK || body != strconv.Itoa(want) {
			t.Fatalf("GET = %d %q; want 200 %d", code, body, want)
		}
	}

	srv.Kill()
	storetesting.WantUnavailable(t, s, srv.Addr(), get)

	srv.Restart()
	if body := storetesting.WaitServing(t, get); body != "1" {
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
	id := storetesting.Create(t, s, storetesting.Patch(time.Now(), "a", "1"))
	get := storetesting.CounterSite(t, s)
	get()

	srv.Stop()
	storetesting.WaitStalled(t, srv.Addr(), "version\r\n")
	storetesting.WantDeadlines(t, s, id)
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

	storetesting.WantStalledRequest(t, get)

	srv.Cont()
	testutil.EventuallyNil(t, 5*time.Second, "the store to recover", func() error {
		_, _, err := s.Load(context.Background(), id)
		return err
	})
}
