package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/sessionmesh/sessionmesh/internal/netaddr"
)

// readyTimeout bounds how long a server may take to answer after its
// start; a cluster worker pulls its partitions first.
const readyTimeout = 60 * time.Second

// setup is the running processes of one setup.
type setup struct {
	name  string
	procs []*proc           // everything under test: their CPU is the case's
	urls  map[string]string // base URL by mode
	pprof string            // w0's pprof base URL when it serves one, else ""
}

// stop kills every process of the setup.
func (s *setup) stop() {
	for _, p := range s.procs {
		p.kill()
	}
}

// dead returns an error naming the processes that have exited, with the
// end of their logs, or nil.
func (s *setup) dead() error {
	var errs []error
	for _, p := range s.procs {
		if !p.alive() {
			errs = append(errs, fmt.Errorf("%s exited: %v\n%s", p.name, p.err, p.tail(15)))
		}
	}
	return errors.Join(errs...)
}

// startSetup starts the processes of the named setup and waits until they
// all answer.
func (b *bench) startSetup(ctx context.Context, name string) (*setup, error) {
	s := &setup{name: name, urls: map[string]string{}}
	err := b.launch(ctx, s)
	if err != nil {
		s.stop()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	return s, nil
}

func (b *bench) launch(ctx context.Context, s *setup) error {
	switch s.name {
	case setupLoadgen:
		return b.startStatic(ctx, s)
	case setupBare:
		return b.startBare(ctx, s)
	case setupMemory1, setupMemory1B:
		return b.startWorkers(ctx, s, 1, memoryEnv)
	case setupRedis1, setupRedis3:
		addr, err := b.startRedis(ctx, s)
		if err != nil {
			return err
		}
		return b.startWorkers(ctx, s, workersOf(s.name), redisEnv(addr))
	case setupMemcache:
		addr, err := b.startMemcached(ctx, s)
		if err != nil {
			return err
		}
		return b.startWorkers(ctx, s, 3, memcacheEnv(addr))
	case setupShared:
		return b.startWorkers(ctx, s, 3, clusterEnv(newSecret(), 2))
	case setupShared3:
		return b.startWorkers(ctx, s, 3, clusterEnv(newSecret(), 3))
	case setupCeiling:
		return b.startWorkers(ctx, s, 3, memoryEnv)
	}
	return fmt.Errorf("unknown setup %q", s.name)
}

func workersOf(setup string) int {
	if strings.HasSuffix(setup, "-1") {
		return 1
	}
	return 3
}

// logPath is where a process of the setup writes its output: one file per
// setup and process, appended to by every repeat.
func (b *bench) logPath(s *setup, proc string) string {
	return filepath.Join(b.dir, s.name+"-"+proc+".log")
}

// add starts a process of s and waits until check passes.
func (b *bench) add(ctx context.Context, s *setup, name, bin string, args, env []string, check func() error) error {
	p, err := startProc(name, b.logPath(s, name), bin, args, env)
	if err != nil {
		return err
	}
	s.procs = append(s.procs, p)
	return waitReady(ctx, p, readyTimeout, check)
}

func (b *bench) startBare(ctx context.Context, s *setup) error {
	addr, err := netaddr.FreeLoopback(false)
	if err != nil {
		return err
	}
	s.urls[modeDirect] = "http://" + addr
	return b.add(ctx, s, "bare", b.self, []string{bareMode, addr}, nil, httpCheck(s.urls[modeDirect]+"/peek"))
}

func (b *bench) startRedis(ctx context.Context, s *setup) (string, error) {
	addr, err := netaddr.FreeLoopback(false)
	if err != nil {
		return "", err
	}
	_, port, _ := strings.Cut(addr, ":")
	args := []string{"--bind", "127.0.0.1", "--port", port, "--save", "", "--appendonly", "no", "--dir", b.dir}
	return addr, b.add(ctx, s, "redis-server", "redis-server", args, nil, lineCheck(addr, "PING\r\n", "+PONG"))
}

func (b *bench) startMemcached(ctx context.Context, s *setup) (string, error) {
	addr, err := netaddr.FreeLoopback(false)
	if err != nil {
		return "", err
	}
	_, port, _ := strings.Cut(addr, ":")
	args := []string{"-l", "127.0.0.1", "-p", port, "-U", "0", "-m", "1024"}
	if os.Geteuid() == 0 {
		args = append(args, "-u", "root") // memcached refuses root without it
	}
	return addr, b.add(ctx, s, "memcached", "memcached", args, nil, lineCheck(addr, "version\r\n", "VERSION "))
}

// startStatic starts HAProxy answering every request itself.
func (b *bench) startStatic(ctx context.Context, s *setup) error {
	addr, err := netaddr.FreeLoopback(false)
	if err != nil {
		return err
	}
	s.urls[modeDirect] = "http://" + addr
	return b.startHAProxy(ctx, s, haproxyStaticConfig(addr), addr)
}

// startBalancer starts HAProxy with a round-robin and a sticky frontend
// on the workers.
func (b *bench) startBalancer(ctx context.Context, s *setup, workers []backend) error {
	rr, err := netaddr.FreeLoopback(false)
	if err != nil {
		return err
	}
	sticky, err := netaddr.FreeLoopback(false)
	if err != nil {
		return err
	}
	s.urls[modeRR], s.urls[modeSticky] = "http://"+rr, "http://"+sticky
	return b.startHAProxy(ctx, s, haproxyConfig(rr, sticky, workers), rr, sticky)
}

func (b *bench) startHAProxy(ctx context.Context, s *setup, config string, addrs ...string) error {
	path := filepath.Join(b.dir, s.name+"-haproxy.cfg")
	if err := os.WriteFile(path, []byte(config), 0o644); err != nil {
		return err
	}
	return b.add(ctx, s, "haproxy", "haproxy", []string{"-db", "-f", path}, nil, func() error {
		for _, a := range addrs {
			if err := dialCheck(a)(); err != nil {
				return err
			}
		}
		return nil
	})
}

// workerSpec is what one worker's flags and environment are made of.
type workerSpec struct {
	Name        string // w0, w1, ...
	Addr        string // HTTP
	ClusterAddr string // gossip, TCP and UDP
	PeerAddr    string // the cluster's peer transport
	Peers       []string
}

// startWorkers starts n demo workers with the environment env gives each,
// waits until every one is ready and, with more than one, puts HAProxy in
// front of them; with one, the worker is the setup's direct URL. Every
// worker is started before any is waited for: a cluster node is ready only
// once it has found the others.
func (b *bench) startWorkers(ctx context.Context, s *setup, n int, env func(workerSpec) []string) error {
	specs, err := workerSpecs(n)
	if err != nil {
		return err
	}
	var procs []*proc
	for i, spec := range specs {
		// -admin off: the default admin port would be shared by every
		// worker, and the bench reads no /cluster.
		args := []string{"-addr", spec.Addr, "-admin", "off", "-name", spec.Name}
		if i == 0 && b.opts.Profile != "" {
			pp, err := netaddr.FreeLoopback(false)
			if err != nil {
				return err
			}
			args = append(args, "-pprof", pp)
			s.pprof = "http://" + pp
		}
		bin := b.demo
		if s.name == setupMemory1B {
			bin = b.opts.DemoBase
		}
		p, err := startProc(spec.Name, b.logPath(s, spec.Name), bin, args, env(spec))
		if err != nil {
			return err
		}
		s.procs = append(s.procs, p)
		procs = append(procs, p)
	}
	var backends []backend
	for i, p := range procs {
		if err := waitReady(ctx, p, readyTimeout, httpCheck("http://"+specs[i].Addr+"/readyz")); err != nil {
			return err
		}
		backends = append(backends, backend{Name: specs[i].Name, Addr: specs[i].Addr})
	}
	if n == 1 {
		s.urls[modeDirect] = "http://" + specs[0].Addr
		return nil
	}
	return b.startBalancer(ctx, s, backends)
}

// workerSpecs picks free ports for n workers; each worker's peers are the
// others' gossip addresses.
func workerSpecs(n int) ([]workerSpec, error) {
	specs := make([]workerSpec, n)
	for i := range specs {
		s := &specs[i]
		s.Name = "w" + strconv.Itoa(i)
		var err error
		for _, f := range []struct {
			addr *string
			udp  bool
		}{{&s.Addr, false}, {&s.ClusterAddr, true}, {&s.PeerAddr, false}} {
			if *f.addr, err = netaddr.FreeLoopback(f.udp); err != nil {
				return nil, err
			}
		}
	}
	for i := range specs {
		for j, o := range specs {
			if j != i {
				specs[i].Peers = append(specs[i].Peers, o.ClusterAddr)
			}
		}
	}
	return specs, nil
}

func memoryEnv(workerSpec) []string { return []string{"SESSIONS_STORE=memory"} }

func redisEnv(addr string) func(workerSpec) []string {
	host, port, _ := strings.Cut(addr, ":")
	return func(workerSpec) []string {
		return []string{"SESSIONS_STORE=redis", "SESSIONS_SERVER_HOST=" + host, "SESSIONS_SERVER_PORT=" + port}
	}
}

func memcacheEnv(addr string) func(workerSpec) []string {
	return func(workerSpec) []string {
		return []string{"SESSIONS_STORE=memcache", "SESSIONS_SERVERS=" + addr}
	}
}

// clusterEnv makes the workers one cluster over the memory store, on
// loopback, with n copies of every session.
func clusterEnv(secret string, n int) func(workerSpec) []string {
	return func(s workerSpec) []string {
		return []string{
			"SESSIONS_STORE=memory",
			"SESSIONS_CLUSTER_BIND=" + s.ClusterAddr,
			"SESSIONS_CLUSTER_PEER_BIND=" + s.PeerAddr,
			"SESSIONS_CLUSTER_JOIN=" + strings.Join(s.Peers, ","),
			"SESSIONS_CLUSTER_REPLICAS=" + strconv.Itoa(n),
			"SESSIONS_CLUSTER_SECRET=" + secret,
		}
	}
}

// newSecret returns a fresh cluster secret: base64 of 32 random bytes.
func newSecret() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // never fails (Go 1.24+)
	return base64.StdEncoding.EncodeToString(b)
}

// httpCheck returns a check that GET url answers 200.
func httpCheck(url string) func() error {
	client := &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	return func() error {
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
}
