package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sessionmesh/sessionmesh/stores/memory"
)

func TestWriteTimeoutCoversARequestWithinItsBounds(t *testing.T) {
	for _, tt := range []struct {
		read, request, want time.Duration
	}{
		{10 * time.Second, 1500 * time.Millisecond, 16500 * time.Millisecond}, // the defaults
		{10 * time.Second, 30 * time.Second, 45 * time.Second},
		{time.Second, time.Nanosecond, 6*time.Second + time.Nanosecond},
		{10 * time.Second, 0, 0}, // -request-timeout 0: no bound on requests, none here
	} {
		got := writeTimeout(tt.read, tt.request)
		if got != tt.want {
			t.Errorf("writeTimeout(read %v, request %v) = %v, want %v", tt.read, tt.request, got, tt.want)
		}
		if tt.request > 0 && got <= tt.read+tt.request {
			t.Errorf("writeTimeout(read %v, request %v) = %v leaves no time to write the answer", tt.read, tt.request, got)
		}
	}
}

// The worker as started has every limit set (audit M5).
func TestDefaultLimits(t *testing.T) {
	o, err := parseFlags([]string{"-request-timeout", "2s"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	want := limits{readHeader: 10 * time.Second, read: 10 * time.Second, write: 17 * time.Second, idle: time.Minute, maxHeaderBytes: 16 << 10}
	if o.limits != want {
		t.Fatalf("limits with -request-timeout 2s = %+v, want %+v", o.limits, want)
	}
}

// An 11 MB POST /login is refused with 413 after reading 4 KiB, and
// nothing is stored (the audit's 11 MB body was read and accepted).
func TestLoginRefusesALargeBody(t *testing.T) {
	f := newFixture(t)
	b := f.browser(t)
	body := "user=alice&pad=" + strings.Repeat("x", 11<<20)
	req, err := http.NewRequest("POST", f.srv.URL+"/login", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := b.c.Do(req)
	if err != nil {
		t.Fatalf("POST /login with 11 MB: %v (want a 413 answer)", err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("POST /login with 11 MB = %d %q, want 413", resp.StatusCode, got)
	}
	if n := f.store.(*memory.Store).Stats().Sessions; n != 0 || b.sid() != "" {
		t.Fatalf("after a refused 11 MB login the store holds %d sessions and the jar sid=%q; want none", n, b.sid())
	}
	b.login("alice") // a normal login still works
}

// serveWithLimits runs the worker's server (serve) on loopback with the
// limits l and returns its address; it stops when the test ends.
func serveWithLimits(t *testing.T, l limits) string {
	t.Helper()
	d := demoOn(t, newLifecycleStore(t).Store)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serve(ctx, ln, d, options{shutdownTimeout: 5 * time.Second, limits: l}) }()
	t.Cleanup(func() {
		cancel()
		if err := waitErr(t, done); err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return ln.Addr().String()
}

// guard bounds how long a test waits for the server to act on a limit of a
// few hundred milliseconds: reached only if the limit is not applied.
const guard = 10 * time.Second

// A client that sends its headers and then the body slowly (here: never
// the rest of it) is cut off after ReadTimeout; the audit's stayed open for
// 40 s and more. The server's own timer does the waiting.
func TestSlowBodyIsCutAfterReadTimeout(t *testing.T) {
	l := limits{read: 300 * time.Millisecond}
	addr := serveWithLimits(t, l)
	start := time.Now() // before the server's clock starts: when it accepts
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprint(conn, "POST /login HTTP/1.1\r\nHost: demo\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\nuser=al")
	conn.SetReadDeadline(start.Add(guard))
	reply, err := io.ReadAll(conn) // until the server closes the connection
	took := time.Since(start)
	if err != nil {
		t.Fatalf("a slow-body request was still open after %v (ReadTimeout %v): %v", took.Round(time.Millisecond), l.read, err)
	}
	if took < l.read {
		t.Errorf("the connection closed after %v, before ReadTimeout %v: not by the timeout", took, l.read)
	}
	if strings.Contains(string(reply), "logged in") {
		t.Errorf("the cut-off request logged in: %q", reply)
	}
}

// An idle keep-alive connection is closed after IdleTimeout.
func TestIdleConnectionIsClosed(t *testing.T) {
	l := limits{idle: 300 * time.Millisecond}
	conn, err := net.Dial("tcp", serveWithLimits(t, l))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprint(conn, "GET /healthz HTTP/1.1\r\nHost: demo\r\n\r\n")
	r := bufio.NewReader(conn)
	resp, err := http.ReadResponse(r, nil)
	if err != nil {
		t.Fatalf("GET /healthz: %v", err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	idle := time.Now()
	conn.SetReadDeadline(idle.Add(guard))
	if _, err := r.ReadByte(); err != io.EOF {
		t.Fatalf("an idle keep-alive connection: read = %v after %v, want EOF after IdleTimeout %v", err, time.Since(idle).Round(time.Millisecond), l.idle)
	}
}

// Headers beyond MaxHeaderBytes are refused with 431.
func TestLargeHeadersAreRefused(t *testing.T) {
	l := limits{maxHeaderBytes: maxHeaderBytes}
	url := "http://" + serveWithLimits(t, l)
	req, _ := http.NewRequest("GET", url+"/healthz", nil)
	req.Header.Set("X-Big", strings.Repeat("a", 2*maxHeaderBytes)) // net/http allows 4 KiB of slack
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET with %d bytes of headers: %v (want a 431 answer)", 2*maxHeaderBytes, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("GET with %d bytes of headers = %s, want 431", 2*maxHeaderBytes, resp.Status)
	}
}
