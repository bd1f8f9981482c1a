package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionmesh/sessionmesh/cluster"
	"github.com/sessionmesh/sessionmesh/internal/servertest"
	"github.com/sessionmesh/sessionmesh/internal/testutil"
	"github.com/sessionmesh/sessionmesh/session"
	"github.com/sessionmesh/sessionmesh/stores"
)

// lifecycleStore is a memory store with the lifecycle of a cluster node
// that the test controls: whether it is Ready, and what its HandOff does. It
// injects the states a real node passes through too quickly to observe.
type lifecycleStore struct {
	session.Store
	ready   atomic.Bool
	drains  atomic.Int32
	onDrain func(ctx context.Context) error
}

func (s *lifecycleStore) Ready() bool { return s.ready.Load() }

func (s *lifecycleStore) HandOff(ctx context.Context) error {
	s.drains.Add(1)
	if s.onDrain == nil {
		return nil
	}
	return s.onDrain(ctx)
}

func newLifecycleStore(t *testing.T) *lifecycleStore {
	t.Helper()
	st, err := stores.Open(stores.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stores.Close(st) })
	return &lifecycleStore{Store: st}
}

func demoOn(t *testing.T, st session.Store) *demo {
	t.Helper()
	cfg := stores.DefaultConfig()
	m, err := session.NewManager(cfg.Session(st))
	if err != nil {
		t.Fatal(err)
	}
	return newDemo("w-test", m, slog.New(slog.NewTextHandler(io.Discard, nil)))
}

// A worker whose cluster node is still pulling its partitions (or is
// draining) must not get users from a balancer, though its HTTP server
// runs: /readyz follows the store.
func TestReadyzFollowsStoreReadiness(t *testing.T) {
	st := newLifecycleStore(t)
	d := demoOn(t, st)
	d.ready.Store(true)
	srv := newServer(t, d)
	for _, tt := range []struct {
		ready bool
		code  int
		body  string
	}{
		{false, 503, "not ready: the cluster node is joining or draining\n"},
		{true, 200, "ready\n"},
		{false, 503, "not ready: the cluster node is joining or draining\n"},
	} {
		st.ready.Store(tt.ready)
		if code, body, _ := httpGet(t, srv+"/readyz"); code != tt.code || body != tt.body {
			t.Errorf("store ready=%v: /readyz = %d %q, want %d %q", tt.ready, code, body, tt.code, tt.body)
		}
	}
}

func newServer(t *testing.T, d *demo) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: d.routes()}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String()
}

// On SIGTERM the store drains while the HTTP server still answers (a
// balancer that has not noticed /readyz yet keeps sending users, and they
// must be served), and only then does the server stop.
func TestShutdownDrainsStoreWhileServing(t *testing.T) {
	st := newLifecycleStore(t)
	st.ready.Store(true)
	d := demoOn(t, st)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + ln.Addr().String()
	var during []string // what a client saw while the store drained
	st.onDrain = func(ctx context.Context) error {
		for _, path := range []string{"/readyz", "/"} {
			code, body, _ := httpGet(t, url+path)
			during = append(during, fmt.Sprintf("%s=%d %s", path, code, strings.TrimSpace(body)))
		}
		return nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serve(ctx, ln, d, options{shutdownTimeout: 5 * time.Second}) }()
	if !testutil.Poll(5*time.Second, func() bool { code, _, _ := httpGet(t, url+"/readyz"); return code == 200 }) {
		t.Fatal("/readyz never answered 200")
	}
	cancel() // SIGTERM
	if err := waitErr(t, done); err != nil {
		t.Fatalf("serve after SIGTERM = %v, want nil", err)
	}
	want := []string{"/readyz=503 not ready: starting or shutting down", "/=200 1"}
	if strings.Join(during, "; ") != strings.Join(want, "; ") {
		t.Errorf("during the drain a client saw %q, want %q", during, want)
	}
	if n := st.drains.Load(); n != 1 {
		t.Errorf("store drained %d times, want once", n)
	}
	if _, err := http.Get(url + "/healthz"); err == nil {
		t.Error("still serving after shutdown")
	}
}

// A drain that does not finish (sessions left with fewer copies than
// configured) makes the worker's exit an error, after it has stopped.
func TestShutdownReportsIncompleteDrain(t *testing.T) {
	st := newLifecycleStore(t)
	st.ready.Store(true)
	st.onDrain = func(ctx context.Context) error {
		<-ctx.Done() // an owner that never acknowledges
		return fmt.Errorf("cluster: drain w-test: hand off 3 sessions: %w", ctx.Err())
	}
	d := demoOn(t, st)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serve(ctx, ln, d, options{shutdownTimeout: 200 * time.Millisecond}) }()
	cancel()
	err = waitErr(t, done)
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "drain store") {
		t.Fatalf("serve with a drain that timed out = %v, want an error naming the drain and the deadline", err)
	}
	if _, err := http.Get("http://" + ln.Addr().String() + "/healthz"); err == nil {
		t.Error("still serving after an incomplete drain")
	}
}

func waitErr(t *testing.T, done <-chan error) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not return 10s after SIGTERM")
		return nil
	}
}

// Three real cluster workers with one copy of every session: a worker
// stopped by SIGTERM hands its sessions to the others before it exits, so
// every user still has their counter, and the survivors report no missing
// copies.
func TestRunClusterDrainKeepsSessions(t *testing.T) {
	seeds := []string{servertest.FreeGossipAddr(t), servertest.FreeGossipAddr(t), servertest.FreeGossipAddr(t)}
	var ws []*started
	for i, bind := range seeds {
		env := clusterEnv(bind, seeds[:i], "1")
		ws = append(ws, start(t, []string{"-name", fmt.Sprintf("w%d", i)}, env))
	}
	waitMembers(t, ws, 3)
	var users []*browser
	for range 30 {
		b := &browser{t: t, c: newJarClient(t), url: ws[0].url}
		b.expect("/", 200, "1\n")
		b.expect("/", 200, "2\n")
		users = append(users, b)
	}
	ws[0].cancel() // SIGTERM
	if err := ws[0].wait(t); err != nil {
		t.Fatalf("w0 after SIGTERM = %v, want a clean drain\n%s", err, ws[0].log)
	}
	if !strings.Contains(ws[0].log.String(), "demo: store drained") {
		t.Errorf("w0's log does not show the drain:\n%s", ws[0].log)
	}
	for i, b := range users {
		b.url = ws[1+i%2].url
		b.expect("/peek", 200, "2\n")
	}
	waitMembers(t, ws[1:], 2)
}

// clusterEnv makes a worker a cluster node gossiping on bind, joining
// seeds, with the given number of copies per session.
func clusterEnv(bind string, seeds []string, replicas string) func(string) (string, bool) {
	env := map[string]string{
		"SESSIONS_CLUSTER_BIND":      bind,
		"SESSIONS_CLUSTER_PEER_BIND": "127.0.0.1:0",
		"SESSIONS_CLUSTER_REPLICAS":  replicas,
		"SESSIONS_CLUSTER_JOIN":      strings.Join(seeds, ","),
		"SESSIONS_CLUSTER_SECRET":    testSecret,
	}
	return func(k string) (string, bool) { v, ok := env[k]; return v, ok && v != "" }
}

// waitMembers waits until every worker's /cluster lists n members, all
// ready, with no copy missing.
func waitMembers(t *testing.T, ws []*started, n int) {
	t.Helper()
	var last string
	ok := testutil.Poll(20*time.Second, func() bool {
		for _, w := range ws {
			code, body, _ := httpGet(t, w.admin+"/cluster")
			var st cluster.Status
			if code != 200 || jsonDecode(body, &st) != nil {
				last = fmt.Sprintf("%s/cluster = %d %q", w.admin, code, body)
				return false
			}
			if !converged(st, n) {
				last = body
				return false
			}
		}
		return true
	})
	if !ok {
		t.Fatalf("cluster never showed %d ready members with no copy missing; last /cluster:\n%s", n, last)
	}
}

func converged(st cluster.Status, n int) bool {
	if len(st.Members) != n || st.UnderReplicated != 0 {
		return false
	}
	for _, m := range st.Members {
		if !m.Ready || m.Error != "" {
			return false
		}
	}
	return true
}

func newJarClient(t *testing.T) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Jar: jar, Timeout: 10 * time.Second}
}

func jsonDecode(body string, v any) error { return json.Unmarshal([]byte(body), v) }
