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
// count without changing it. Its answers have the demo's headers: the
// server's name in X-Served-By, and Vary: Accept and Vary: Cookie (the
// demo's answer depends on both), so that both write the same bytes.
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
	w.Header()["Vary"] = []string{"Accept", "Cookie"}
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
// killed. Its limits are the demo worker's (cmd/demo/limits.go, with the
// default -request-timeout of 1.5s): net/http sets a connection's
// deadlines for each request by them, which costs every request a few
// timer changes, and the bare handler must pay what the demo pays for
// them so that the comparison is of the sessions alone.
func serveBare(addr string) error {
	srv := &http.Server{
		Addr:              addr,
		Handler:           newBareCounter(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      10*time.Second + 1500*time.Millisecond + 5*time.Second,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    16 << 10,
	}
	return srv.ListenAndServe()
}
