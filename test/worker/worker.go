package worker

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Worker is one demo process of a Pool. Its methods must be called from
// the test's goroutine.
type Worker struct {
	t       testing.TB
	pool    *Pool
	logPath string

	mu      sync.Mutex    // guards the fields below
	spec    Spec          // ports change only if the first start lost a port race
	proc    *os.Process   // nil before the first start
	exited  chan struct{} // closed when proc has been reaped
	exitErr error         // proc's exit status, set before exited closes
	stopped bool          // SIGSTOPped and not continued since
}

// Name returns the worker's -name, e.g. "w0".
func (w *Worker) Name() string { return w.Spec().Name }

// URL returns the worker's base URL, e.g. "http://127.0.0.1:40123".
func (w *Worker) URL() string { return "http://" + w.Spec().Addr }

// AdminURL returns the base URL of the worker's admin listener, which
// serves GET /cluster, e.g. "http://127.0.0.1:40124".
func (w *Worker) AdminURL() string { return "http://" + w.Spec().AdminAddr }

// Spec returns what the worker was (last) started with.
func (w *Worker) Spec() Spec {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.spec
}

// LogPath returns the file that collects the worker's stdout and stderr
// over all its starts.
func (w *Worker) LogPath() string { return w.logPath }

// Running reports whether the process is alive (a stopped one counts).
func (w *Worker) Running() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.proc != nil && !closed(w.exited)
}

// Kill sends SIGKILL and waits until the process has been reaped: a crash.
// Killing a worker that is not running does nothing.
func (w *Worker) Kill() {
	w.t.Helper()
	if err := w.kill(); err != nil {
		w.t.Fatalf("worker: kill %s: %v", w.Name(), err)
	}
}

// Stop freezes the worker with SIGSTOP: its sockets stay open and it
// answers nothing, like a hung machine or a long GC pause. It returns once
// every thread of the process has stopped.
func (w *Worker) Stop() {
	w.t.Helper()
	err := w.signal(syscall.SIGSTOP)
	if err == nil {
		err = waitStopped(w.pid())
	}
	if err != nil {
		w.t.Fatalf("worker: stop %s: %v", w.Name(), err)
	}
}

// Cont resumes a worker frozen by Stop.
func (w *Worker) Cont() {
	w.t.Helper()
	if err := w.signal(syscall.SIGCONT); err != nil {
		w.t.Fatalf("worker: cont %s: %v", w.Name(), err)
	}
}

// Reload sends SIGHUP: the demo re-reads its cluster secret file.
func (w *Worker) Reload() {
	w.t.Helper()
	if err := w.signal(syscall.SIGHUP); err != nil {
		w.t.Fatalf("worker: reload %s: %v", w.Name(), err)
	}
}

// Term sends SIGTERM and waits for the process to exit: a graceful
// shutdown. The test fails if it takes longer than Config.StopTimeout (the
// worker is then killed) or if the exit status is not 0.
func (w *Worker) Term() {
	w.t.Helper()
	if err := w.term(); err != nil {
		w.t.Errorf("worker: term %s: %v\n%s", w.Name(), err, w.tail(30))
	}
}

// Restart starts the worker again on the same ports, joining the pool's
// current workers, and waits until it is ready. A worker still running is
// killed first: call Term before Restart for a graceful restart.
func (w *Worker) Restart() {
	w.t.Helper()
	if err := w.kill(); err != nil {
		w.t.Fatalf("worker: restart %s: %v", w.Name(), err)
	}
	w.setPeers()
	if err := w.startAndWait(); err != nil {
		w.t.Fatalf("worker: restart %s: %v", w.Name(), err)
	}
}

// setPeers makes the pool's other workers the seeds of w's next start.
func (w *Worker) setPeers() {
	peers := w.pool.peersOf(w)
	w.mu.Lock()
	w.spec.Peers = peers
	w.mu.Unlock()
}

func (w *Worker) term() error {
	w.mu.Lock()
	proc, exited, stopped := w.proc, w.exited, w.stopped
	w.mu.Unlock()
	if proc == nil || closed(exited) {
		return errors.New("not running")
	}
	if stopped {
		_ = w.signal(syscall.SIGCONT) // a frozen process cannot handle SIGTERM
	}
	if err := w.signal(syscall.SIGTERM); err != nil {
		return err
	}
	timeout := w.pool.cfg.StopTimeout
	select {
	case <-exited:
	case <-time.After(timeout):
		_ = w.kill()
		return fmt.Errorf("still running %v after SIGTERM; killed", timeout)
	}
	if err := w.exitError(); err != nil {
		return fmt.Errorf("unclean exit after SIGTERM: %w", err)
	}
	return nil
}

// kill SIGKILLs the process if it runs and waits until it is reaped.
func (w *Worker) kill() error {
	w.mu.Lock()
	proc, exited := w.proc, w.exited
	w.mu.Unlock()
	if proc == nil || closed(exited) {
		return nil
	}
	// SIGKILL ends a stopped process too; no SIGCONT needed.
	if err := proc.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return err
	}
	<-exited
	return nil
}

func (w *Worker) signal(sig syscall.Signal) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.proc == nil || closed(w.exited) {
		return errors.New("not running")
	}
	if err := w.proc.Signal(sig); err != nil {
		return err
	}
	switch sig {
	case syscall.SIGSTOP:
		w.stopped = true
	case syscall.SIGCONT:
		w.stopped = false
	}
	return nil
}

func (w *Worker) pid() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.proc.Pid
}

func (w *Worker) exitError() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.exitErr
}

// startAndWait starts the process and waits for /readyz; on failure the
// process is killed and the error carries the end of its log.
func (w *Worker) startAndWait() error {
	if err := w.start(); err != nil {
		return err
	}
	if err := w.waitReady(); err != nil {
		_ = w.kill()
		return fmt.Errorf("%w\n%s", err, w.tail(30))
	}
	return nil
}

// start execs the demo with the worker's Spec and reaps it in a goroutine
// that ends when the process does (Kill in cleanup guarantees it does).
func (w *Worker) start() error {
	logf, err := os.OpenFile(w.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("open log: %w", err)
	}
	spec := w.Spec()
	cmd := w.pool.command(spec)
	cmd.Stdout, cmd.Stderr = logf, logf
	fmt.Fprintf(logf, "=== worker %s: %s %s\n", spec.Name, strings.Join(extraEnv(cmd.Env), " "), strings.Join(cmd.Args, " "))
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("start %s: %w", cmd.Path, err)
	}
	exited := make(chan struct{})
	w.mu.Lock()
	w.proc, w.exited, w.exitErr, w.stopped = cmd.Process, exited, nil, false
	w.mu.Unlock()
	go w.reap(cmd, logf, exited)
	return nil
}

func (w *Worker) reap(cmd *exec.Cmd, logf *os.File, exited chan struct{}) {
	err := cmd.Wait()
	fmt.Fprintf(logf, "=== worker %s: exited: %v\n", w.Name(), exitText(err))
	logf.Close()
	w.mu.Lock()
	w.exitErr = err
	w.mu.Unlock()
	close(exited)
}

// waitReady polls /readyz until it answers 200, the process exits, or
// Config.ReadyTimeout passes.
func (w *Worker) waitReady() error {
	w.mu.Lock()
	exited := w.exited
	w.mu.Unlock()
	client := &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	url := w.URL() + "/readyz"
	deadline := time.Now().Add(w.pool.cfg.ReadyTimeout)
	for {
		err := probe(client, url)
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready after %v: %w", w.Name(), w.pool.cfg.ReadyTimeout, err)
		}
		select {
		case <-exited:
			return fmt.Errorf("%s exited before ready (%v); last probe: %w", w.Name(), exitText(w.exitError()), err)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func probe(client *http.Client, url string) error {
	resp, err := client.Get(url)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return nil
}

// tail returns the last n lines of the worker's log, headed by its path.
func (w *Worker) tail(n int) string {
	b, err := os.ReadFile(w.logPath)
	if err != nil {
		return fmt.Sprintf("--- no log for %s: %v", w.Name(), err)
	}
	lines := bytes.Split(bytes.TrimRight(b, "\n"), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return fmt.Sprintf("--- last lines of %s (%s) ---\n%s", w.Name(), w.logPath, bytes.Join(lines, []byte("\n")))
}

func closed(c chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

func exitText(err error) string {
	if err == nil {
		return "exit status 0"
	}
	return err.Error()
}
