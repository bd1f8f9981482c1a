package storetesting

import (
	"bufio"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sessionmesh/sessionmesh/httpmw"
	"github.com/sessionmesh/sessionmesh/internal/testutil"
	"github.com/sessionmesh/sessionmesh/session"
)

// CounterSite serves the demo's counter behind the middleware over st
// (every request adds one to the session's counter and prints it) and
// returns a function that requests it as one browser would, with the
// status and body.
func CounterSite(t testing.TB, st session.Store) func() (int, string) {
	t.Helper()
	ts := httptest.NewServer(CounterHandler(t, st))
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

// CounterHandler is CounterSite's handler: the demo's counter behind the
// middleware over st, with session.DefaultConfig's cookie name.
func CounterHandler(t testing.TB, st session.Store) http.Handler {
	t.Helper()
	cfg := session.DefaultConfig(st)
	cfg.Logger = slog.New(slog.DiscardHandler)
	m, err := session.NewManager(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return httpmw.New(m)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := session.FromContext(r.Context())
		n, _ := session.Get[int](s, "n")
		if err := s.Set("n", n+1); err != nil {
			return // the middleware answers with the store's error
		}
		fmt.Fprint(w, n+1)
	}))
}

// WaitStalled waits until the server at addr has stopped answering request
// (one command line, e.g. "PING\r\n"): SIGSTOP is delivered asynchronously,
// and a server still running for a moment would answer the first call of
// the test.
func WaitStalled(t testing.TB, addr, request string) {
	t.Helper()
	testutil.EventuallyNil(t, 5*time.Second, "the server to stall", func() error {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			return err
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(100 * time.Millisecond))
		fmt.Fprint(conn, request)
		line, err := bufio.NewReader(conn).ReadString('\n')
		if err == nil {
			return fmt.Errorf("it still answers %q", line)
		}
		return nil
	})
}
