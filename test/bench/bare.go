package main

import (
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// bareMode is the hidden first argument that makes this binary the bare
// handler's server: "bench serve-bare 127.0.0.1:PORT". The benchmark
// re-executes itself that way, so the bare handler is a process of its own
// whose CPU is counted like a worker's.
const bareMode = "serve-bare"

// sessionCookie is the demo's default cookie name (sessions.key), which the
// bare handler reads and sets too.
const sessionCookie = "sid"

// bareCounter is the baseline: the demo's counter with no session library,
// the count kept in a map under a mutex keyed by the sid cookie. It speaks
// the demo's HTTP: GET / increments and returns "N\n", setting the cookie
// (with the demo's attributes) on a first visit; GET /peek returns the
// count without changing it; both name the server in X-Served-By.
type bareCounter struct {
	mu sync.Mutex // guards n
	n  map[string]int
}

func newBareCounter() *bareCounter { return &bareCounter{n: make(map[string]int)} }

func (b *bareCounter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Served-By", "bare")
	if r.Method != http.MethodGet || (r.URL.Path != "/" && r.URL.Path != "/peek") {
		http.NotFound(w, r)
		return
	}
	id := ""
	if c, err := r.Cookie(sessionCookie); err == nil {
		id = c.Value
	}
	var n int
	if r.URL.Path == "/peek" {
		b.mu.Lock()
		n = b.n[id]
		b.mu.Unlock()
	} else {
		if id == "" {
			id = newID()
			http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: id, Path: "/",
				MaxAge: 14 * 24 * 3600, HttpOnly: true, SameSite: http.SameSiteLaxMode})
		}
		b.mu.Lock()
		b.n[id]++
		n = b.n[id]
		b.mu.Unlock()
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Write(append(strconv.AppendInt(nil, int64(n), 10), '\n'))
}

// newID returns 32 random bytes in base64url, like a session ID.
func newID() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // never fails (Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b)
}

// serveBare runs the bare handler's server on addr until the process is
// killed.
func serveBare(addr string) error {
	srv := &http.Server{Addr: addr, Handler: newBareCounter(), ReadHeaderTimeout: 10 * time.Second}
	return srv.ListenAndServe()
}
