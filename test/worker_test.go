package test

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sessionmesh/sessionmesh/test/worker"
)

var memoryStore = worker.Config{Env: func(worker.Spec) []string { return []string{"SESSIONS_STORE=memory"} }}

// TestWorkerLifecycle drives one real demo process through every control
// the harness offers and checks what a client sees after each.
func TestWorkerLifecycle(t *testing.T) {
	p := worker.Start(t, 1, memoryStore)
	w := p.Workers()[0]
	b := newBrowser(t)
	if n, by := b.counter(w.URL() + "/"); n != 1 || by != "w0" {
		t.Fatalf("first write = %d served by %q, want 1 by w0", n, by)
	}
	if got := p.URLs(); len(got) != 1 || got[0] != w.URL() {
		t.Fatalf("URLs() = %v, want [%s]", got, w.URL())
	}

	w.Stop()
	stalled := &http.Client{Timeout: 300 * time.Millisecond, Transport: &http.Transport{DisableKeepAlives: true}}
	if _, err := stalled.Get(w.URL() + "/peek"); !isTimeout(err) {
		t.Fatalf("GET on a stopped worker: %v, want a timeout", err)
	}
	w.Cont()
	if n, _ := b.counter(w.URL() + "/peek"); n != 1 {
		t.Fatalf("after SIGCONT the counter is %d, want 1 (nothing lost by a freeze)", n)
	}

	w.Stop()
	w.Term() // continues the frozen worker so that it can shut down
	if w.Running() {
		t.Fatal("Running() after Term")
	}
	w.Restart()
	if n, by := b.counter(w.URL() + "/"); n != 1 || by != "w0" {
		t.Fatalf("first write after a restart of a memory worker = %d by %q, want 1 (a fresh session) by w0", n, by)
	}

	w.Stop()
	w.Kill()
	if w.Running() {
		t.Fatal("Running() after Kill of a frozen worker")
	}
	if _, _, _, err := b.get(w.URL() + "/peek"); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("GET on a killed worker: %v, want connection refused", err)
	}
	w.Restart()
	if n, _ := b.counter(w.URL() + "/"); n != 1 {
		t.Fatalf("first write after the second restart = %d, want 1", n)
	}
	w.Term()
	log, err := os.ReadFile(w.LogPath())
	if got := strings.Count(string(log), "exited: exit status 0"); err != nil || got != 2 {
		t.Fatalf("log shows %d clean exits (err %v), want 2 (one per Term):\n%s", got, err, log)
	}
}

// TestWorkerAdd starts a second worker next to a running one.
func TestWorkerAdd(t *testing.T) {
	p := worker.Start(t, 1, memoryStore)
	w1 := p.Add()
	if w1.Name() != "w1" || w1.URL() == p.Workers()[0].URL() || len(p.URLs()) != 2 {
		t.Fatalf("Add gave %s at %s; pool %v", w1.Name(), w1.URL(), p.URLs())
	}
	if _, by := newBrowser(t).counter(w1.URL() + "/"); by != "w1" {
		t.Fatalf("X-Served-By = %q, want w1", by)
	}
	for _, w := range p.Workers() {
		if status, _, _, err := newBrowser(t).get(w.URL() + "/healthz"); err != nil || status != http.StatusOK {
			t.Errorf("%s /healthz: %d %v", w.Name(), status, err)
		}
	}
}

// TestWorkerStartFailsClearly: a worker that cannot start fails the test
// with its log, instead of hanging until the ready timeout.
func TestWorkerStartFailsClearly(t *testing.T) {
	// Start skips under -short through the real t inside fakeT; skip here,
	// before the recover below is involved.
	if testing.Short() {
		t.Skip("test: needs a demo worker process; run without -short (scripts/test.sh)")
	}
	ft := &fakeT{TB: t}
	func() {
		defer func() { _ = recover() }() // fakeT.Fatalf panics where t.Fatalf would end the goroutine
		worker.Start(ft, 1, worker.Config{Env: func(worker.Spec) []string {
			return []string{"SESSIONS_STORE=nosuchstore"}
		}})
	}()
	ft.runCleanups()
	if !strings.Contains(ft.msg, "exited before ready") || !strings.Contains(ft.msg, "last lines of w0") {
		t.Fatalf("failure message does not say the worker exited and show its log:\n%s", ft.msg)
	}
}

// fakeT records a fatal failure instead of failing the real test, so a
// test can check how the harness fails.
type fakeT struct {
	testing.TB
	msg      string
	cleanups []func()
}

func (f *fakeT) Helper()             {}
func (f *fakeT) Failed() bool        { return f.msg != "" }
func (f *fakeT) Cleanup(fn func())   { f.cleanups = append(f.cleanups, fn) }
func (f *fakeT) Logf(string, ...any) {}
func (f *fakeT) Errorf(format string, args ...any) {
	f.msg += fmt.Sprintf(format, args...) + "\n"
}
func (f *fakeT) Fatalf(format string, args ...any) {
	f.Errorf(format, args...)
	panic("fakeT.Fatalf")
}

func (f *fakeT) runCleanups() {
	for i := len(f.cleanups) - 1; i >= 0; i-- {
		f.cleanups[i]()
	}
}

func isTimeout(err error) bool {
	var nerr net.Error
	return errors.As(err, &nerr) && nerr.Timeout()
}
