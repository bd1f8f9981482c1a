// Package clustertest runs a cluster of N cluster.Store nodes inside one
// test process, on loopback ports, behind a fault-injecting network: cut
// links (Partition, Heal), block session traffic only (BlockPeer), drop
// and delay messages, Kill nodes without a goodbye, or take them out
// gracefully (Drain, Close) and Add new ones. Gossip (memberlist) and
// session traffic (peer) both pass through the faults, so a partition
// splits membership and data alike. WaitConverged waits until the live
// nodes agree on the members and each holds the partitions it owns;
// WaitReplicated also until every partition has N copies.
//
//	c := clustertest.New(t, 3)
//	c.WaitConverged(5 * time.Second)
//	c.Partition([]int{0}, []int{1, 2})
//	...
//	c.Heal()
//
// It has no globals: several Clusters may run in one process. Everything
// is stopped through t.Cleanup.
package clustertest

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"

	"github.com/sessionmesh/sessionmesh/cluster"
)

// Cluster is N in-process nodes behind one Network.
type Cluster struct {
	t    testing.TB
	opts options
	net  *Network
	seed string // gossip address of node 0, the seed of every later node

	mu     sync.Mutex // guards nodes and killed
	nodes  []*cluster.Store
	killed map[int]bool
}

type options struct {
	configure func(i int, c *cluster.Config)
	secret    []byte
	logger    *slog.Logger
}

// Option changes how New builds the nodes.
type Option func(*options)

// WithConfig lets the test change node i's Config (made from
// cluster.DefaultLocalConfig, with failure detection relaxed for loaded
// test machines: ProbeTimeout 500ms, SuspicionMult 6, and anti-entropy
// every 3s) before the node starts. Several WithConfig
// options apply in order.
func WithConfig(f func(i int, c *cluster.Config)) Option {
	return func(o *options) {
		prev := o.configure
		o.configure = func(i int, c *cluster.Config) {
			if prev != nil {
				prev(i, c)
			}
			f(i, c)
		}
	}
}

// WithLogger sends every node's log to l. Default: discarded, unless the
// environment variable CLUSTERTEST_LOGDIR names a directory: then each
// test's nodes log at Info level to DIR/<test name>.log, which is where
// to look when a fault test fails.
func WithLogger(l *slog.Logger) Option {
	return func(o *options) { o.logger = l }
}

func defaultLogger(t testing.TB) *slog.Logger {
	dir := os.Getenv("CLUSTERTEST_LOGDIR")
	if dir == "" {
		return slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	f, err := os.Create(filepath.Join(dir, strings.ReplaceAll(t.Name(), "/", "_")+".log"))
	if err != nil {
		t.Fatalf("clustertest: CLUSTERTEST_LOGDIR: %v", err)
	}
	t.Cleanup(func() { f.Close() })
	return slog.New(slog.NewTextHandler(f, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

// New starts n nodes (node 0 first; the others join it) and registers
// their shutdown with t.Cleanup. It does not wait for convergence: call
// WaitConverged.
func New(t testing.TB, n int, opts ...Option) *Cluster {
	t.Helper()
	c := &Cluster{t: t, net: newNetwork(1), killed: map[int]bool{}}
	c.opts.secret = make([]byte, 32)
	rand.Read(c.opts.secret)
	c.opts.logger = defaultLogger(t)
	for _, o := range opts {
		o(&c.opts)
	}
	t.Cleanup(c.close)
	for range n {
		c.Add()
	}
	return c
}

// Add starts one more node that joins node 0 and returns its index.
func (c *Cluster) Add() int {
	c.t.Helper()
	c.mu.Lock()
	i := len(c.nodes)
	c.nodes = append(c.nodes, nil)
	c.mu.Unlock()
	s, err := cluster.New(c.config(i))
	if err != nil {
		c.t.Fatalf("clustertest: start node %d: %v", i, err)
	}
	c.net.register(c.net.peers, s.Addr(), i)
	c.mu.Lock()
	c.nodes[i] = s
	c.mu.Unlock()
	return i
}

func (c *Cluster) config(i int) cluster.Config {
	cfg := cluster.DefaultLocalConfig()
	// A loaded test machine (-race, parallel packages) stalls the whole
	// process for a second or more; failure detection this relaxed rides
	// out most such stalls and still notices a dead node in about two
	// seconds. Anti-entropy runs less often: its scans are most of a
	// quiet cluster's work.
	cfg.ProbeTimeout = 500 * time.Millisecond
	cfg.SuspicionMult = 6
	cfg.AntiEntropyInterval = 3 * time.Second
	cfg.Name = fmt.Sprintf("node%d", i)
	cfg.Secret = c.opts.secret
	cfg.Logger = c.opts.logger.With("index", i)
	if c.seed != "" {
		cfg.Join = []string{c.seed}
	}
	cfg.WrapCaller = func(inner cluster.Caller) cluster.Caller {
		return &caller{net: c.net, from: i, inner: inner}
	}
	cfg.WrapTransport = func(inner memberlist.Transport) memberlist.Transport {
		ip, port, err := inner.FinalAdvertiseAddr("", 0)
		if err == nil {
			addr := fmt.Sprintf("%s:%d", ip, port)
			c.net.register(c.net.gossip, addr, i)
			if c.seed == "" {
				c.seed = addr
			}
		}
		return &transport{Transport: inner, net: c.net, from: i}
	}
	if c.opts.configure != nil {
		c.opts.configure(i, &cfg)
	}
	return cfg
}

// Len returns the number of nodes ever started, killed ones included.
func (c *Cluster) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.nodes)
}

// Store returns node i (also after Kill, when it is closed).
func (c *Cluster) Store(i int) *cluster.Store {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.nodes[i]
}

// Alive returns the indices of the nodes started and not killed or
// drained.
func (c *Cluster) Alive() []int {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []int
	for i, s := range c.nodes {
		if s != nil && !c.killed[i] {
			out = append(out, i)
		}
	}
	return out
}

// Index returns the index of the node named name, or -1.
func (c *Cluster) Index(name string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.IndexFunc(c.nodes, func(s *cluster.Store) bool { return s != nil && s.Name() == name })
}

// Drain takes node i out of the Cluster gracefully (cluster.Store.Drain:
// hand-off, leave, stop). The node stops counting as alive first, so
// helpers that pick a live node (as a load balancer would) avoid it.
func (c *Cluster) Drain(ctx context.Context, i int) error {
	if !c.retire(i) {
		return nil
	}
	return c.Store(i).Drain(ctx)
}

// Close is Drain bounded by the node's DrainTimeout
// (cluster.Store.Close).
func (c *Cluster) Close(i int) error {
	if !c.retire(i) {
		return nil
	}
	return c.Store(i).Close()
}

// retire marks node i as no longer alive; false if it was not.
func (c *Cluster) retire(i int) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.killed[i] {
		return false
	}
	c.killed[i] = true
	return true
}

// Kill stops node i without a goodbye, as a crash would: its links are cut
// first, so not even its leave could get out, then it shuts down. The
// others notice through failure detection.
func (c *Cluster) Kill(i int) {
	c.mu.Lock()
	if c.killed[i] {
		c.mu.Unlock()
		return
	}
	c.killed[i] = true
	n := len(c.nodes)
	c.mu.Unlock()
	for j := range n {
		c.net.setCut(i, j, true)
		c.net.setCut(j, i, true)
	}
	c.Store(i).Shutdown()
}

// Partition cuts every link between nodes of different groups; nodes in
// no group are cut from everyone. Links within a group are left as they
// are. Killed nodes stay cut.
func (c *Cluster) Partition(groups ...[]int) {
	group := map[int]int{}
	for g, members := range groups {
		for _, i := range members {
			group[i] = g + 1
		}
	}
	n := c.Len()
	for i := range n {
		for j := range n {
			if i != j && (group[i] == 0 || group[i] != group[j]) {
				c.net.setCut(i, j, true)
			}
		}
	}
}

// BlockPeer fails the session traffic (peer calls) from node from to node
// to at once, as a firewall closing the peer port would, and leaves their
// gossip alone: both stay members of each other's table. Heal lifts it.
func (c *Cluster) BlockPeer(from, to int) {
	c.net.mu.Lock()
	defer c.net.mu.Unlock()
	c.net.block[link{from, to}] = true
}

// BlockGossip drops the gossip from node from to node to and leaves the
// session traffic alone: memberlist comes to declare nodes dead that
// still answer every peer call. Heal lifts it.
func (c *Cluster) BlockGossip(from, to int) {
	c.net.mu.Lock()
	defer c.net.mu.Unlock()
	c.net.mute[link{from, to}] = true
}

// Heal removes every cut, block, drop and delay between nodes that are
// alive.
func (c *Cluster) Heal() {
	alive := c.Alive()
	c.net.mu.Lock()
	defer c.net.mu.Unlock()
	for _, i := range alive {
		for _, j := range alive {
			l := link{i, j}
			delete(c.net.cut, l)
			delete(c.net.block, l)
			delete(c.net.mute, l)
			delete(c.net.drop, l)
			delete(c.net.delay, l)
		}
	}
}

// Drop loses the fraction p (0 to 1) of the messages from node from to
// node to.
func (c *Cluster) Drop(from, to int, p float64) {
	c.net.mu.Lock()
	defer c.net.mu.Unlock()
	c.net.drop[link{from, to}] = p
}

// Delay holds every message from node from to node to for d.
func (c *Cluster) Delay(from, to int, d time.Duration) {
	c.net.mu.Lock()
	defer c.net.mu.Unlock()
	c.net.delay[link{from, to}] = d
}

// Converged reports whether every live node's table holds exactly the live
// nodes it is not cut from, and every live node is ready and holds every
// partition it owns (cluster.Store.Syncing is 0), but for the nodes the
// quorum guard keeps from serving (cluster.Store.Quorate is false: the
// minority of a split), which are converged once their tables are.
func (c *Cluster) Converged() bool {
	alive := c.Alive()
	for _, i := range alive {
		if s := c.Store(i); s.Quorate() && (!s.Ready() || s.Syncing() > 0) {
			return false
		}
		want := []string{}
		for _, j := range alive {
			if i == j || !c.net.isCut(i, j) {
				want = append(want, c.Store(j).Name())
			}
		}
		slices.Sort(want)
		var got []string
		for _, m := range c.Store(i).Table().Members() {
			got = append(got, m.Name)
		}
		if !slices.Equal(got, want) {
			return false
		}
	}
	return true
}

// WaitConverged waits until Converged, polling, and fails the test if it
// takes longer than timeout.
func (c *Cluster) WaitConverged(timeout time.Duration) {
	c.t.Helper()
	deadline := time.Now().Add(timeout)
	for !c.Converged() {
		if time.Now().After(deadline) {
			c.t.Fatalf("clustertest: not converged after %v: %s", timeout, c.describe())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// WaitReplicated waits until Converged and no live node is short of a
// copy (cluster.Store.UnderReplicated is 0 everywhere: every partition
// has N copies), and fails the test if that takes longer than timeout.
func (c *Cluster) WaitReplicated(timeout time.Duration) {
	c.t.Helper()
	deadline := time.Now().Add(timeout)
	for !c.Converged() || c.underReplicated() > 0 {
		if time.Now().After(deadline) {
			c.t.Fatalf("clustertest: not fully replicated after %v (%d copies short): %s", timeout, c.underReplicated(), c.describe())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (c *Cluster) underReplicated() int {
	n := 0
	for _, i := range c.Alive() {
		n += c.Store(i).UnderReplicated()
	}
	return n
}

// describe lists what each live node sees, for failure messages.
func (c *Cluster) describe() string {
	s := ""
	for _, i := range c.Alive() {
		var names []string
		for _, m := range c.Store(i).Table().Members() {
			flag := ""
			if m.Joining {
				flag = "(joining)"
			} else if m.Draining {
				flag = "(draining)"
			}
			names = append(names, m.Name+flag)
		}
		st := c.Store(i)
		s += fmt.Sprintf("\n  node %d (%s, ready=%v syncing=%d short=%d) sees %v", i, st.Name(), st.Ready(), st.Syncing(), st.UnderReplicated(), names)
	}
	return s
}

// close stops every node (in parallel) and the network. The nodes stop
// hard (cluster.Store.Shutdown): the test is over, and draining them into
// each other would only cost time.
func (c *Cluster) close() {
	var wg sync.WaitGroup
	for _, i := range c.Alive() {
		if s := c.Store(i); s != nil {
			wg.Add(1)
			go func() {
				defer wg.Done()
				s.Shutdown()
			}()
		}
	}
	wg.Wait()
	c.net.close()
}

// Seed returns node 0's gossip address, the address a node from outside
// the Cluster joins to reach it.
func (c *Cluster) Seed() string { return c.seed }

// Owners returns the indices of the nodes that replicate session id in
// node from's table, the primary first.
func (c *Cluster) Owners(from int, id string) []int {
	t := c.Store(from).Table()
	var out []int
	for _, m := range t.Owners(t.Partition(id)) {
		out = append(out, c.Index(m.Name))
	}
	return out
}
