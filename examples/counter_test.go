package examples_test

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
	chiexample "github.com/sessionmesh/sessionmesh/examples/chi"
	ginexample "github.com/sessionmesh/sessionmesh/examples/gin"
	"github.com/sessionmesh/sessionmesh/session"
	"github.com/sessionmesh/sessionmesh/stores/memory"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	gin.SetMode(gin.ReleaseMode) // no debug banner
	goleak.VerifyTestMain(m)
}

// Each example serves the counter behind a real HTTP server; a client with
// a cookie jar (a browser) sees it count 1, 2, and another client starts
// at 1 again.
func TestCounter(t *testing.T) {
	for name, handler := range map[string]func(*session.Manager) http.Handler{
		"chi": chiexample.Router,
		"gin": ginexample.Handler,
	} {
		t.Run(name, func(t *testing.T) {
			st, err := memory.New(memory.DefaultConfig())
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			m, err := session.NewManager(session.DefaultConfig(st))
			if err != nil {
				t.Fatal(err)
			}
			srv := httptest.NewServer(handler(m))
			t.Cleanup(srv.Close)
			alice, bob := browser(t), browser(t)
			for _, step := range []struct {
				c    *http.Client
				want string
			}{{alice, "1"}, {alice, "2"}, {bob, "1"}, {alice, "3"}} {
				if got := get(t, step.c, srv.URL); got != step.want {
					t.Fatalf("got %q, want %q", got, step.want)
				}
			}
			if n := m.LateChanges(); n != 0 {
				t.Fatalf("%d changes came after the response started and were lost", n)
			}
		})
	}
}

func browser(t *testing.T) *http.Client {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Jar: jar}
}

func get(t *testing.T, c *http.Client, url string) string {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s %s %v", url, resp.Status, body, err)
	}
	return strings.TrimSpace(string(body))
}
