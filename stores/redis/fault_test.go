package redis

import (
	"context"
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

// TestServerKilled: a killed server turns requests into 503s (no panic, no
// half-written session), and the same Store serves again once the server is
// back on its port, with the session as it was before the kill.
func TestServerKilled(t *testing.T) {
	// AOF with fsync on every write: the restarted server has what was
	// acknowledged before the kill.
	srv := servertest.Redis(t, servertest.WithArgs("--appendonly", "yes", "--appendfsync", "always"))
	s := open(t, Config{Addrs: []string{srv.Addr()}, DialTimeout: 2 * time.Second, Timeout: 2 * time.Second})
	get := storetesting.CounterSite(t, s)
	for want := 1; want <= 2; want++ {
		if code, body := get(); code != http.StatusOK || body != strconv.Itoa(want) {
			t.Fatalf("GET = %d %q; want 200 %d", code, body, want)
		}
	}

	srv.Kill()
	storetesting.WantUnavailable(t, s, srv.Addr(), get)

	srv.Restart()
	if body := storetesting.WaitServing(t, get); body != "3" {
		t.Fatalf("first counter after the restart = %s; want 3 (the session as acknowledged before the kill, the failed requests not counted)", body)
	}
}

// TestServerStalled: a server that stops answering (SIGSTOP) costs a call
// its context deadline, or Config.Timeout without one, never a hung request;
// through the middleware it is a 503.
func TestServerStalled(t *testing.T) {
	srv := servertest.Redis(t)
	s := open(t, Config{Addrs: []string{srv.Addr()}, Timeout: 400 * time.Millisecond})
	id := storetesting.Create(t, s, storetesting.Patch(time.Now(), "a", "1"))
	get := storetesting.CounterSite(t, s)
	get()

	srv.Stop()
	storetesting.WaitStalled(t, srv.Addr(), "PING\r\n")
	storetesting.WantDeadlines(t, s, id)
	storetesting.WantStalledRequest(t, get)

	srv.Cont()
	testutil.EventuallyNil(t, 5*time.Second, "the store to recover", func() error {
		_, _, err := s.Load(context.Background(), id)
		return err
	})
}
