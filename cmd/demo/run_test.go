package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sessionmesh/sessionmesh/internal/testutil"
)

func noEnv(string) (string, bool) { return "", false }

// started is a run of the whole program on free ports.
type started struct {
	url    string
	admin  string             // the admin listener's base URL; "" when -admin is off
	cancel context.CancelFunc // what SIGTERM does
	done   chan error
	log    *testutil.Buffer // the worker's stderr, read while it runs
}

func start(t *testing.T, args []string, lookup func(string) (string, bool)) *started {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s := &started{cancel: cancel, done: make(chan error, 1), log: &testutil.Buffer{}}
	addrs := make(chan bound, 1)
	go func() {
		// args may set -admin again: the last one counts
		s.done <- run(ctx, append([]string{"-addr", "127.0.0.1:0", "-admin", "127.0.0.1:0"}, args...), lookup, s.log, func(b bound) { addrs <- b })
	}()
	select {
	case b := <-addrs:
		s.url = "http://" + b.http.String()
		if b.admin != nil {
			s.admin = "http://" + b.admin.String()
		}
	case err := <-s.done:
		cancel()
		t.Fatalf("run exited before listening: %v\n%s", err, s.log)
	}
	t.Cleanup(func() {
		cancel()
		s.wait(t)
	})
	return s
}

// wait returns run's error, failing the test if it takes too long.
func (s *started) wait(t *testing.T) error {
	select {
	case err := <-s.done:
		s.done <- err // later waits see it too
		return err
	case <-time.After(10 * time.Second):
		t.Fatalf("run did not return 10s after shutdown began\n%s", s.log)
		return nil
	}
}

func httpGet(t *testing.T, url string) (int, string, http.Header) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), resp.Header
}

func TestRunServesAndDrainsOnSignal(t *testing.T) {
	s := start(t, []string{"-name", "w7", "-drain", "2s"}, noEnv)
	if code, body, h := httpGet(t, s.url+"/"); code != 200 || body != "1\n" || h.Get("X-Served-By") != "w7" {
		t.Fatalf("GET / = %d %q served by %q, want 200 \"1\" by w7", code, body, h.Get("X-Served-By"))
	}
	if code, _, _ := httpGet(t, s.url+"/readyz"); code != 200 {
		t.Fatalf("/readyz = %d while serving, want 200", code)
	}
	s.cancel()
	// During the drain the server still answers, but not ready.
	if !testutil.Poll(2*time.Second, func() bool { code, _, _ := httpGet(t, s.url+"/readyz"); return code == 503 }) {
		t.Errorf("/readyz never answered 503 while draining")
	}
	if code, _, _ := httpGet(t, s.url+"/healthz"); code != 200 {
		t.Errorf("/healthz = %d while draining, want 200", code)
	}
	if err := s.wait(t); err != nil {
		t.Fatalf("run after SIGTERM = %v, want nil (graceful)\n%s", err, s.log)
	}
	if _, err := http.Get(s.url + "/healthz"); err == nil {
		t.Fatal("still serving after shutdown")
	}
	if !strings.Contains(s.log.String(), "demo: stopped") {
		t.Errorf("no shutdown in the log:\n%s", s.log)
	}
}

func TestRunReadsConfigFileAndEnv(t *testing.T) {
	path := filepath.Join(t.TempDir(), "demo.yaml")
	if err := os.WriteFile(path, []byte("sessions:\n  key: shop_sid\n  expiry: 60\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := func(k string) (string, bool) {
		if k == "SESSIONS_EXPIRY" {
			return "120", true
		}
		return "", false
	}
	s := start(t, []string{"-config", path}, env)
	_, _, h := httpGet(t, s.url+"/")
	cookie := h.Get("Set-Cookie")
	if !strings.HasPrefix(cookie, "shop_sid=") || !strings.Contains(cookie, "Max-Age=120") {
		t.Fatalf("Set-Cookie %q: want the file's cookie name and the environment's expiry", cookie)
	}
}

func TestRunRefusesBadSetup(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"unknown store", nil, map[string]string{"SESSIONS_STORE": "mongo"}, "sessions.store"},
		{"bad expiry", nil, map[string]string{"SESSIONS_EXPIRY": "soon"}, "SESSIONS_EXPIRY"},
		{"missing config file", []string{"-config", "/nonexistent/demo.yaml"}, nil, "demo.yaml"},
		{"unknown flag", []string{"-port", "80"}, nil, "-port"},
		{"stray argument", []string{"serve"}, nil, "serve"},
		{"address in use", []string{"-addr", busy.Addr().String()}, nil, "listen"},
		{"admin address in use", []string{"-admin", busy.Addr().String()}, nil, "admin listen"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			log := &testutil.Buffer{}
			lookup := func(k string) (string, bool) { v, ok := tt.env[k]; return v, ok }
			ctx, cancel := context.WithCancel(context.Background())
			cancel() // a setup that wrongly succeeds shuts down at once
			err := run(ctx, append([]string{"-addr", "127.0.0.1:0", "-admin", "off"}, tt.args...), lookup, log, nil)
			if err == nil || !strings.Contains(err.Error()+log.String(), tt.want) {
				t.Fatalf("run = %v (log %q), want an error mentioning %q", err, log, tt.want)
			}
		})
	}
}

// -request-timeout reaches the middleware: a request that outlives it
// saves nothing and answers 503 (1ns: every request outlives it).
func TestRequestTimeoutRefusesLateSaves(t *testing.T) {
	s := start(t, []string{"-request-timeout", "1ns"}, noEnv)
	if code, body, _ := httpGet(t, s.url+"/"); code != http.StatusServiceUnavailable {
		t.Fatalf("GET / past the request timeout: %d %q, want 503", code, body)
	}
	if !strings.Contains(s.log.String(), "deadline passed") {
		t.Errorf("the refused save is not logged with its cause:\n%s", s.log)
	}
}

// -pprof serves the profiles on a listener of its own, not on the public
// port, and stops with the worker (goleak checks the goroutine).
func TestPprofOnItsOwnListener(t *testing.T) {
	s := start(t, []string{"-pprof", "127.0.0.1:0"}, noEnv)
	var addr string
	testutil.Poll(10*time.Second, func() bool {
		_, rest, ok := strings.Cut(s.log.String(), `msg="demo: pprof"`)
		_, rest, ok2 := strings.Cut(rest, "addr=")
		addr, _, _ = strings.Cut(rest, "\n")
		return ok && ok2
	})
	if addr == "" {
		t.Fatalf("no pprof address in the log:\n%s", s.log)
	}
	if code, body, _ := httpGet(t, "http://"+addr+"/debug/pprof/"); code != 200 || !strings.Contains(body, "goroutine") {
		t.Fatalf("GET /debug/pprof/ = %d %q, want 200 with the profiles", code, body)
	}
	if code, _, _ := httpGet(t, s.url+"/debug/pprof/"); code == 200 {
		t.Fatal("the public port serves pprof")
	}
}
