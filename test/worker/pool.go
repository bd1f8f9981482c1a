package worker

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/sessionmesh/sessionmesh/internal/netaddr"
)

// Pool is a set of demo worker processes started by one test.
type Pool struct {
	t   testing.TB
	cfg Config
	bin string
	dir string // logs

	mu      sync.Mutex // guards workers
	workers []*Worker
}

// Start builds the demo if needed, starts n workers on free loopback ports
// and waits until all are ready. Every worker is killed when the test ends.
// Under go test -short it skips the test (see Binary).
func Start(t testing.TB, n int, cfg Config) *Pool {
	t.Helper()
	cfg.setDefaults()
	p := &Pool{t: t, cfg: cfg, bin: Binary(t), dir: t.TempDir()}
	t.Cleanup(p.cleanup)
	for range n {
		if _, err := p.newWorker(); err != nil {
			t.Fatalf("worker: %v", err)
		}
	}
	ws := p.Workers()
	// Start every process before waiting for any: a cluster node may only
	// report ready once it has found the others.
	for _, w := range ws {
		w.setPeers()
		if err := w.start(); err != nil {
			t.Fatalf("worker: %s: %v", w.Name(), err)
		}
	}
	for _, w := range ws {
		if err := p.ready(w); err != nil {
			t.Fatalf("worker: %v", err)
		}
	}
	return p
}

// Add starts one more worker, joining the current ones, and waits until it
// is ready.
func (p *Pool) Add() *Worker {
	p.t.Helper()
	w, err := p.newWorker()
	if err == nil {
		w.setPeers()
		err = w.start()
	}
	if err == nil {
		err = p.ready(w)
	}
	if err != nil {
		p.t.Fatalf("worker: add: %v", err)
	}
	return w
}

// Workers returns the pool's workers, dead or alive, in start order.
func (p *Pool) Workers() []*Worker {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]*Worker(nil), p.workers...)
}

// URLs returns every worker's base URL, dead or alive: the backend list a
// load balancer would be configured with.
func (p *Pool) URLs() []string {
	var urls []string
	for _, w := range p.Workers() {
		urls = append(urls, w.URL())
	}
	return urls
}

// newWorker reserves the ports and log file of the next worker.
func (p *Pool) newWorker() (*Worker, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	i := len(p.workers)
	w := &Worker{t: p.t, pool: p, spec: Spec{Index: i, Name: fmt.Sprintf("w%d", i)}}
	w.logPath = filepath.Join(p.dir, w.spec.Name+".log")
	if err := w.spec.pickPorts(); err != nil {
		return nil, err
	}
	p.workers = append(p.workers, w)
	return w, nil
}

func (s *Spec) pickPorts() error {
	var err error
	for _, f := range []struct {
		addr *string
		udp  bool
	}{{&s.Addr, false}, {&s.AdminAddr, false}, {&s.ClusterAddr, true}, {&s.PeerAddr, false}} {
		if *f.addr, err = netaddr.FreeLoopback(f.udp); err != nil {
			return err
		}
	}
	return nil
}

// ready waits for a freshly started worker. If it died because another
// process took one of its ports between pickPorts and its bind, it is
// started again on new ports, at most twice.
func (p *Pool) ready(w *Worker) error {
	for retry := 0; ; retry++ {
		err := w.waitReady()
		if err == nil {
			return nil
		}
		_ = w.kill()
		if retry == 2 || !portTaken(w) {
			return fmt.Errorf("%w\n%s", err, w.tail(30))
		}
		w.mu.Lock()
		err = w.spec.pickPorts()
		w.mu.Unlock()
		if err == nil {
			err = w.start()
		}
		if err != nil {
			return err
		}
	}
}

func portTaken(w *Worker) bool {
	return strings.Contains(w.tail(10), "address already in use")
}

// peersOf returns the cluster addresses of every worker but w.
func (p *Pool) peersOf(w *Worker) []string {
	var peers []string
	for _, o := range p.Workers() {
		if o != w {
			peers = append(peers, o.Spec().ClusterAddr)
		}
	}
	return peers
}

// command builds the exec.Cmd of one start of a worker.
func (p *Pool) command(s Spec) *exec.Cmd {
	args := append([]string{"-addr", s.Addr, "-admin", s.AdminAddr, "-name", s.Name}, p.cfg.Args...)
	cmd := exec.Command(p.bin, args...)
	cmd.Env = inheritedEnv()
	if p.cfg.Env != nil {
		cmd.Env = append(cmd.Env, p.cfg.Env(s)...)
	}
	cmd.SysProcAttr = sysProcAttr()
	return cmd
}

// inheritedEnv is the test's environment without SESSIONS_* variables.
func inheritedEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SESSIONS_") {
			env = append(env, kv)
		}
	}
	return env
}

// extraEnv picks the SESSIONS_* variables of env, for the log header.
func extraEnv(env []string) []string {
	var out []string
	for _, kv := range env {
		if strings.HasPrefix(kv, "SESSIONS_") && !strings.HasPrefix(kv, "SESSIONS_CLUSTER_SECRET=") {
			out = append(out, kv)
		}
	}
	return out
}

// cleanup kills every worker; when the test failed it prints the end of
// every worker's log first, while the files still exist.
func (p *Pool) cleanup() {
	var errs []error
	for _, w := range p.Workers() {
		if err := w.kill(); err != nil {
			errs = append(errs, fmt.Errorf("kill %s: %w", w.Name(), err))
		}
		if p.t.Failed() {
			p.t.Logf("worker: %s", w.tail(40))
		}
	}
	if err := errors.Join(errs...); err != nil {
		p.t.Errorf("worker: cleanup: %v", err)
	}
}
