package memcache

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bradfitz/gomemcache/memcache"

	"github.com/sessionmesh/sessionmesh/internal/servertest"
	"github.com/sessionmesh/sessionmesh/internal/testutil"
	"github.com/sessionmesh/sessionmesh/session"
	"github.com/sessionmesh/sessionmesh/stores/internal/storetesting"
)

// TestThreeServers, with three real memcached processes: sessions made
// through the middleware spread over all three (each server, read directly,
// holds its share); when one is killed only the sessions on it fail, with a
// 503 and an error naming it, while the others keep counting and new
// sessions are made on the two left; once it is back (empty, as memcached
// keeps nothing) its users start new sessions.
func TestThreeServers(t *testing.T) {
	srvs := []*servertest.Server{servertest.Memcached(t), servertest.Memcached(t), servertest.Memcached(t)}
	addrs := make([]string, len(srvs))
	for i, srv := range srvs {
		addrs[i] = srv.Addr()
	}
	s := open(t, Config{Servers: addrs, Timeout: 2 * time.Second})
	visit := counterSite(t, s)

	users := make([]string, 90)
	for i := range users {
		users[i] = wantCount(t, visit, "", "1")
		wantCount(t, visit, users[i], "2")
	}
	on := holders(t, addrs, users)
	for i, addr := range addrs {
		if n := bytes.Count(on, []byte{byte('0' + i)}); n < 10 {
			t.Errorf("%s holds %d of %d sessions; want about a third", addr, n, len(users))
		}
	}

	srvs[1].Kill()
	down := addrs[1]
	for i, id := range users {
		if on[i] != '1' {
			wantCount(t, visit, id, "3")
			continue
		}
		if code, body, _ := visit(id); code != http.StatusServiceUnavailable {
			t.Fatalf("GET with a session on the killed server = %d %q; want 503", code, body)
		}
		if _, _, err := s.Load(context.Background(), id); err == nil || !strings.Contains(err.Error(), down) {
			t.Fatalf("Load of a session on the killed server: %v; want an error naming %s", err, down)
		}
	}
	fresh := make([]string, 30)
	for i := range fresh {
		fresh[i] = wantCount(t, visit, "", "1")
	}
	holders(t, []string{addrs[0], addrs[2]}, fresh) // each on one of the live two

	srvs[1].Restart()
	for i, id := range users {
		if on[i] == '1' {
			testutil.EventuallyNil(t, 5*time.Second, "the restarted server to serve", func() error {
				if code, body, _ := visit(id); code != http.StatusOK || body != "1" {
					return fmt.Errorf("GET = %d %q; want 200 1 (a new session)", code, body)
				}
				return nil
			})
		}
	}
}

// TestUnnoticedDown: a new session that falls on a server nobody has found
// down yet fails (503 through the middleware) with an error naming it, and
// that failure is what steers the following new sessions away.
func TestUnnoticedDown(t *testing.T) {
	a, b := servertest.Memcached(t), servertest.Memcached(t)
	s := open(t, Config{Servers: []string{a.Addr(), b.Addr()}, Timeout: 2 * time.Second})
	b.Kill()
	p := storetesting.Patch(time.Now(), "a", "1")
	for p.NewID = session.NewID(); s.ring.server(s.key(p.NewID)) != 1; p.NewID = session.NewID() {
	}
	_, err := s.Save(context.Background(), "", p)
	if err == nil || !strings.Contains(err.Error(), b.Addr()) {
		t.Fatalf("create on the killed server: %v; want an error naming %s", err, b.Addr())
	}
	for range 50 {
		if id := s.NewID(); s.ring.server(s.key(id)) != 0 {
			t.Fatalf("NewID gave an ID on the failed server %s", b.Addr())
		}
	}
}

// TestNewIDAvoidsFailed: NewID avoids a server that failed a call in the
// last avoidFor, and only that long; with every server failed it still
// gives a valid ID.
func TestNewIDAvoidsFailed(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	s := &Store{cfg: DefaultConfig(), wall: func() time.Time { return now }, failed: make([]atomic.Int64, 3)}
	s.ring = mustRing(t, "10.0.0.1:11211", "10.0.0.2:11211", "10.0.0.3:11211")
	seen := func() [3]int {
		var n [3]int
		for range 300 {
			id := s.NewID()
			if !session.ValidID(id) {
				t.Fatalf("NewID = %q, not a session ID", id)
			}
			n[s.ring.server(s.key(id))]++
		}
		return n
	}
	if n := seen(); n[0] == 0 || n[1] == 0 || n[2] == 0 {
		t.Fatalf("IDs per server with none failed: %v; want all three", n)
	}
	s.markFailed(1)
	now = now.Add(avoidFor - time.Millisecond)
	if n := seen(); n[1] != 0 || n[0] == 0 || n[2] == 0 {
		t.Fatalf("IDs per server within avoidFor of a failure of server 1: %v; want none on it", n)
	}
	now = now.Add(time.Millisecond)
	if n := seen(); n[1] == 0 {
		t.Fatalf("IDs per server avoidFor after the failure: %v; want server 1 tried again", n)
	}
	s.markFailed(0)
	s.markFailed(1)
	s.markFailed(2)
	seen()
}

// counterSite serves the demo's counter over s through the middleware and
// returns a function that sends one request with the given session cookie
// ("" for none), returning the status, the body and the cookie to send next.
func counterSite(t *testing.T, s session.Store) func(token string) (int, string, string) {
	h := storetesting.CounterHandler(t, s)
	name := session.DefaultConfig(s).CookieName
	return func(token string) (int, string, string) {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		if token != "" {
			r.AddCookie(&http.Cookie{Name: name, Value: token})
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		for _, c := range w.Result().Cookies() {
			if c.Name == name {
				token = c.Value
			}
		}
		body, _ := io.ReadAll(w.Result().Body)
		return w.Code, strings.TrimSpace(string(body)), token
	}
}

// wantCount sends one request with token and wants the counter at want;
// it returns the session's token.
func wantCount(t *testing.T, visit func(string) (int, string, string), token, want string) string {
	t.Helper()
	code, body, next := visit(token)
	if code != http.StatusOK || body != want {
		t.Fatalf("GET = %d %q; want 200 %s", code, body, want)
	}
	return next
}

// holders reads each session's item from every server directly, with a
// plain gomemcache client per server, and returns, for each session in
// order, the index of the one server that holds it as a digit.
func holders(t *testing.T, addrs, ids []string) []byte {
	t.Helper()
	clients := make([]*memcache.Client, len(addrs))
	for j, addr := range addrs {
		clients[j] = memcache.New(addr)
		defer clients[j].Close()
	}
	on := make([]byte, len(ids))
	for i, id := range ids {
		for j, addr := range addrs {
			_, err := clients[j].Get("sess:" + id)
			switch {
			case err == nil && on[i] != 0:
				t.Fatalf("session %d is on two servers", i)
			case err == nil:
				on[i] = byte('0' + j)
			case !errors.Is(err, memcache.ErrCacheMiss):
				t.Fatalf("get from %s: %v", addr, err)
			}
		}
		if on[i] == 0 {
			t.Fatalf("session %d is on none of %v", i, addrs)
		}
	}
	return on
}
