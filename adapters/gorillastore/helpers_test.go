package gorillastore_test

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/sessions"
	"github.com/sessionmesh/sessionmesh/adapters/gorillastore"
	"github.com/sessionmesh/sessionmesh/internal/servertest"
	"github.com/sessionmesh/sessionmesh/session"
	"github.com/sessionmesh/sessionmesh/stores/memory"
	"github.com/sessionmesh/sessionmesh/stores/redis"
)

// backends are the stores the adapter is tested on, each a real one: the
// memory store, and the Redis store on a redis-server started for the test.
var backends = []struct {
	name string
	open func(t *testing.T) session.Store
}{
	{"memory", func(t *testing.T) session.Store { return openMemory(t) }},
	{"redis", openRedis},
}

func openMemory(t *testing.T) *memory.Store {
	st, err := memory.New(memory.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func openRedis(t *testing.T) session.Store {
	srv := servertest.Redis(t)
	st, err := redis.New(redis.Config{Addrs: []string{srv.Addr()}, Timeout: 10 * time.Second, DialTimeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// eachBackend runs test once per backend, as a subtest.
func eachBackend(t *testing.T, test func(t *testing.T, st session.Store)) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) { test(t, b.open(t)) })
	}
}

// client is a browser: an HTTP client with a cookie jar, against a real
// server running h.
type client struct {
	t   *testing.T
	srv *httptest.Server
	c   *http.Client
}

func newClient(t *testing.T, h http.HandlerFunc) *client {
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &client{t: t, srv: srv, c: &http.Client{Jar: jar}}
}

// get requests path and returns the response with its body read.
func (c *client) get(path string) (*http.Response, string) {
	c.t.Helper()
	return c.do(httptest.NewRequest("GET", c.srv.URL+path, nil))
}

func (c *client) do(req *http.Request) (*http.Response, string) {
	c.t.Helper()
	req.RequestURI = ""
	resp, err := c.c.Do(req.WithContext(context.Background()))
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		c.t.Fatalf("GET %s: %s: %s", req.URL.Path, resp.Status, body)
	}
	return resp, strings.TrimSpace(string(body))
}

// cookie returns the client's cookie name, or "".
func (c *client) cookie(name string) string {
	for _, ck := range c.c.Jar.Cookies(mustURL(c.srv.URL)) {
		if ck.Name == name {
			return ck.Value
		}
	}
	return ""
}

// setCookie gives the client the cookie name=value, as a forger would.
func (c *client) setCookie(name, value string) {
	c.c.Jar.SetCookies(mustURL(c.srv.URL), []*http.Cookie{{Name: name, Value: value, Path: "/"}})
}

// fail writes err as a 500, for the client to report.
func fail(w http.ResponseWriter, err error) bool {
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
	}
	return err != nil
}

// stored loads token straight from st, as the next request would.
func stored(t *testing.T, st session.Store, token string) (session.Record, bool) {
	t.Helper()
	rec, found, err := st.Load(context.Background(), token)
	if err != nil {
		t.Fatal(err)
	}
	return rec, found
}

// counter is the Geddy counter on a gorilla session: it reports whether
// the session was new and the count after this request.
func counter(gs *gorillastore.Store, name string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s, err := gs.Get(r, name)
		if fail(w, err) {
			return
		}
		n, _ := s.Values["n"].(int)
		s.Values["n"] = n + 1
		if fail(w, s.Save(r, w)) {
			return
		}
		io.WriteString(w, newOrNot(s)+" "+strconv.Itoa(n+1))
	}
}

func newOrNot(s *sessions.Session) string {
	if s.IsNew {
		return "new"
	}
	return "old"
}

func mustURL(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		panic(err)
	}
	return u
}
