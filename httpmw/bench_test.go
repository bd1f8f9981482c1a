package httpmw_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/sessionmesh/sessionmesh/httpmw"
	"github.com/sessionmesh/sessionmesh/internal/testutil"
	"github.com/sessionmesh/sessionmesh/session"
)

// bareCounter is the baseline: the counter kept in a map under a mutex,
// keyed by the same cookie, with no session library at all.
type bareCounter struct {
	mu sync.Mutex // guards n
	n  map[string]int
}

func (b *bareCounter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c, err := r.Cookie("sid")
	if err != nil {
		c = &http.Cookie{Name: "sid", Value: session.NewID()}
		http.SetCookie(w, c)
	}
	b.mu.Lock()
	b.n[c.Value]++
	n := b.n[c.Value]
	b.mu.Unlock()
	fmt.Fprintf(w, "%d\n", n)
}

// handlers returns the handlers the benchmarks compare.
func handlers(b *testing.B) map[string]http.Handler {
	m, err := session.NewManager(session.DefaultConfig(newStore(b)))
	if err != nil {
		b.Fatal(err)
	}
	return map[string]http.Handler{
		"bare":   &bareCounter{n: make(map[string]int)},
		"memory": httpmw.New(m)(http.HandlerFunc(counter)),
		// as the demo runs it: every request bounded (a ctx with a timer),
		// a header set before the middleware (X-Served-By)
		"memory-timeout": outer(httpmw.New(m, httpmw.WithTimeout(time.Minute))(http.HandlerFunc(counter))),
	}
}

// firstCookie makes the request that creates a session and returns its
// cookie, so the measured requests all hit an existing session.
func firstCookie(b *testing.B, h http.Handler) string {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	c := rec.Result().Cookies()
	if len(c) != 1 {
		b.Fatalf("first request set cookies %v, want one", c)
	}
	return c[0].Name + "=" + c[0].Value
}

// BenchmarkCounter runs the Geddy counter in process: a request built with
// a cookie header, served into a ResponseRecorder. It shows the cost of the
// middleware and the memory store themselves. Besides ns/op it reports the
// CPU time of the whole process per request (cpu-ns/op): the garbage
// collector's work included, and unaffected by time spent waiting for a
// core on a shared machine.
func BenchmarkCounter(b *testing.B) {
	for _, name := range []string{"bare", "memory", "memory-timeout"} {
		b.Run(name, func(b *testing.B) {
			h := handlers(b)[name]
			testutil.BenchGET(b, h, "/", firstCookie(b, h))
		})
	}
}

// BenchmarkCounterLoopback runs the counter through a real HTTP server and
// client on loopback, one session per client goroutine: what a user sees.
// Its cpu-ns/op counts the client's work too, which is the same for both.
func BenchmarkCounterLoopback(b *testing.B) {
	for _, name := range []string{"bare", "memory"} {
		b.Run(name, func(b *testing.B) {
			h := handlers(b)[name]
			srv := httptest.NewServer(h)
			defer srv.Close()
			tr := &http.Transport{MaxIdleConnsPerHost: 256}
			defer tr.CloseIdleConnections()
			client := &http.Client{Transport: tr}
			b.ReportAllocs()
			cpu := testutil.CPUTime()
			b.RunParallel(func(pb *testing.PB) {
				cookie := ""
				for n := 1; pb.Next(); n++ {
					cookie = loopbackGet(b, client, srv.URL, cookie, n)
				}
			})
			b.ReportMetric(float64(testutil.CPUTime()-cpu)/float64(b.N), "cpu-ns/op")
		})
	}
}

// loopbackGet sends one counter request and checks it counted to want;
// it returns the cookie to send next.
func loopbackGet(b *testing.B, c *http.Client, url, cookie string, want int) string {
	req, _ := http.NewRequest("GET", url, nil)
	if cookie != "" {
		req.Header.Set("Cookie", cookie)
	}
	resp, err := c.Do(req)
	if err != nil {
		b.Error(err)
		return cookie
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != strconv.Itoa(want)+"\n" {
		b.Errorf("counter %q, want %d", body, want)
	}
	if cookie != "" {
		return cookie
	}
	if cs := resp.Cookies(); len(cs) > 0 {
		return cs[0].Name + "=" + cs[0].Value
	}
	return cookie
}
