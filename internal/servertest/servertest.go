// Package servertest starts real server processes (redis-server, redis
// sentinel, a redis cluster, memcached) for tests, each on a free loopback
// port, and tears them down through t.Cleanup.
//
// Real servers instead of mocks or in-process fakes: what sessionmesh must
// get right is exactly the behaviour fakes get wrong or leave out — RESP
// error replies, AUTH/ACL rejection, cluster MOVED redirects and slot
// ownership, sentinel master discovery, and above all failure: a process
// that dies (Kill), hangs without closing its sockets (Stop), and comes
// back on the same address (Restart). Only real processes give those
// timings and error paths.
//
// The binaries come from Debian packages; scripts/install-deps.sh installs
// them. A missing binary fails the test (it is never skipped), so a green run
// always means the servers were really exercised. The one exception is
// go test -short, the inner loop that starts no process: there every
// function that would start a server skips the test instead, before it looks
// for the binary. scripts/test.sh, what CI runs, never passes -short.
//
// Helpers call t.Fatalf on failure and so must be called from the test's
// own goroutine.
package servertest

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sessionmesh/sessionmesh/internal/netaddr"
)

// readyTimeout bounds how long a server may take to become ready: a wait
// that ends when it is, so a long bound costs nothing on an idle machine
// and keeps a loaded one (other test binaries, fuzzers) from failing it.
const readyTimeout = time.Minute

// Server is one real server process listening on 127.0.0.1:Port().
// It is killed, and its process reaped, when the test ends.
type Server struct {
	t       testing.TB
	name    string // binary name, for messages
	bin     string // resolved binary path
	port    int
	busPort int // redis cluster bus port; 0 if none
	dir     string
	logPath string
	args    func(s *Server) []string // command line for the current ports
	ready   func(s *Server) error    // one readiness probe

	mu      sync.Mutex
	proc    *os.Process
	exited  chan struct{} // closed when proc has been reaped
	stopped bool          // SIGSTOPped and not yet continued
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago,
// outside the kernel's ephemeral range (netaddr.FreeLoopback).
func FreePort(t testing.TB) int {
	t.Helper()
	addr, err := netaddr.FreeLoopback(false)
	if err != nil {
		t.Fatalf("servertest: %v", err)
	}
	_, port, _ := net.SplitHostPort(addr)
	n, _ := strconv.Atoi(port)
	return n
}

// FreeGossipAddr returns "127.0.0.1:port" for a port that was free for
// both TCP and UDP a moment ago: a cluster node's gossip address
// (memberlist binds both), for a test that restarts nodes on the same
// addresses.
func FreeGossipAddr(t testing.TB) string {
	t.Helper()
	addr, err := netaddr.FreeLoopback(true)
	if err != nil {
		t.Fatalf("servertest: %v", err)
	}
	return addr
}

// Addr returns the server's address as "127.0.0.1:port".
func (s *Server) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)) }

// Port returns the server's TCP port.
func (s *Server) Port() int { return s.port }

// String names the server in messages, e.g. "redis-server 127.0.0.1:40123".
func (s *Server) String() string { return s.name + " " + s.Addr() }

// Kill sends SIGKILL and waits until the process has exited. Killing a
// server that is not running is a no-op.
func (s *Server) Kill() {
	s.t.Helper()
	if err := s.kill(); err != nil {
		s.t.Fatalf("servertest: kill %s: %v", s, err)
	}
}

// Stop freezes the process with SIGSTOP: its sockets stay open but it
// answers nothing, like a hung or partitioned server.
func (s *Server) Stop() {
	s.t.Helper()
	if err := s.signal(syscall.SIGSTOP); err != nil {
		s.t.Fatalf("servertest: stop %s: %v", s, err)
	}
}

// Cont resumes a process frozen by Stop with SIGCONT.
func (s *Server) Cont() {
	s.t.Helper()
	if err := s.signal(syscall.SIGCONT); err != nil {
		s.t.Fatalf("servertest: cont %s: %v", s, err)
	}
}

// Restart kills the server if it is running, starts it again on the same
// port with the same data directory, and waits until it is ready.
func (s *Server) Restart() {
	s.t.Helper()
	if err := s.kill(); err != nil {
		s.t.Fatalf("servertest: restart %s: %v", s, err)
	}
	if err := s.startAndWait(); err != nil {
		s.t.Fatalf("servertest: restart %s: %v", s, err)
	}
}

// newServer resolves the binary (failing the test if it is missing) and
// prepares a Server with its own temp dir and fresh ports; it starts nothing.
// Under go test -short it skips the test: every server start passes here.
func newServer(t testing.TB, name string, withBus bool) *Server {
	t.Helper()
	if testing.Short() {
		t.Skipf("servertest: needs a %s process; run without -short (scripts/test.sh)", name)
	}
	bin, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("servertest: %s not found in PATH; run scripts/install-deps.sh", name)
	}
	dir := t.TempDir()
	s := &Server{t: t, name: name, bin: bin, dir: dir, logPath: filepath.Join(dir, "server.log")}
	s.pickPorts(withBus)
	t.Cleanup(s.cleanup)
	return s
}

func (s *Server) pickPorts(withBus bool) {
	s.port = FreePort(s.t)
	if withBus {
		s.busPort = FreePort(s.t)
	}
}

// launch starts the server the first time and waits until it is ready. If
// it lost the race for its free port, it retries on new ports.
func (s *Server) launch() {
	s.t.Helper()
	var err error
	for attempt := 0; attempt < 3; attempt++ {
		if err = s.startAndWait(); err == nil {
			return
		}
		if !strings.Contains(err.Error(), "Address already in use") {
			break
		}
		s.pickPorts(s.busPort != 0)
	}
	s.t.Fatalf("servertest: %v", err)
}

// startAndWait starts the process and waits for it to become ready; on
// failure the process is killed and the error carries its last log lines.
func (s *Server) startAndWait() error {
	if err := s.start(); err != nil {
		return err
	}
	if err := s.waitReady(); err != nil {
		_ = s.kill()
		return fmt.Errorf("%s: %w\n--- last lines of %s ---\n%s", s, err, s.logPath, s.logTail(20))
	}
	return nil
}

func (s *Server) start() error {
	logf, err := os.OpenFile(s.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("%s: open log: %w", s, err)
	}
	cmd := exec.Command(s.bin, s.args(s)...)
	cmd.Dir = s.dir
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = sysProcAttr()
	fmt.Fprintf(logf, "=== servertest: %s %s\n", s.bin, strings.Join(cmd.Args[1:], " "))
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("%s: start: %w", s, err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		logf.Close()
		close(exited)
	}()
	s.mu.Lock()
	s.proc, s.exited, s.stopped = cmd.Process, exited, false
	s.mu.Unlock()
	return nil
}

// waitReady polls the readiness probe with a growing backoff until it
// succeeds, the process exits, or readyTimeout passes.
func (s *Server) waitReady() error {
	s.mu.Lock()
	exited := s.exited
	s.mu.Unlock()
	return poll(readyTimeout, exited, func() error { return s.ready(s) })
}

// poll calls probe until it returns nil. It gives up after timeout, or as
// soon as exited (if non-nil) is closed.
func poll(timeout time.Duration, exited <-chan struct{}, probe func() error) error {
	deadline := time.Now().Add(timeout)
	backoff := 5 * time.Millisecond
	for {
		err := probe()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not ready after %v: %w", timeout, err)
		}
		select {
		case <-exited:
			return fmt.Errorf("process exited before ready (last probe: %v)", err)
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 200*time.Millisecond)
	}
}

// kill SIGKILLs the process (continuing it first if stopped) and waits for it.
func (s *Server) kill() error {
	s.mu.Lock()
	proc, exited, stopped := s.proc, s.exited, s.stopped
	s.mu.Unlock()
	if proc == nil {
		return nil
	}
	select {
	case <-exited:
		return nil
	default:
	}
	if stopped {
		_ = s.signal(syscall.SIGCONT)
	}
	if err := proc.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return err
	}
	<-exited
	return nil
}

func (s *Server) signal(sig syscall.Signal) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc == nil {
		return errors.New("not started")
	}
	if err := s.proc.Signal(sig); err != nil {
		return err
	}
	switch sig {
	case syscall.SIGSTOP:
		s.stopped = true
	case syscall.SIGCONT:
		s.stopped = false
	}
	return nil
}

func (s *Server) cleanup() {
	if err := s.kill(); err != nil {
		s.t.Errorf("servertest: cleanup %s: %v", s, err)
	}
}

// logTail returns the last n lines of the server's log.
func (s *Server) logTail(n int) string {
	b, err := os.ReadFile(s.logPath)
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	lines := bytes.Split(bytes.TrimRight(b, "\n"), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return string(bytes.Join(lines, []byte("\n")))
}
