package clustertest

import (
	"context"
	"fmt"
	"math/rand"
	"net"
	"sync"
	"time"

	"github.com/hashicorp/memberlist"

	"github.com/sessionmesh/sessionmesh/cluster"
	"github.com/sessionmesh/sessionmesh/cluster/peer"
)

// Network decides the fate of traffic between the nodes of one Cluster:
// gossip packets and streams through each node's wrapped memberlist
// transport, session traffic through each node's wrapped peer Caller.
// Faults apply to one direction of a link (from, to); Partition and Kill
// cut both. A cut link drops gossip and fails peer calls at once with
// peer.ErrUnavailable (like a refused connection), and so does a
// blocked one (BlockPeer: session traffic only); a muted link drops
// gossip only (BlockGossip); a dropped peer call
// fails when its ctx ends (like a lost packet); a delay holds gossip
// packets and peer calls for the given time.
type Network struct {
	mu     sync.Mutex     // guards everything below
	gossip map[string]int // gossip address -> node index
	peers  map[string]int // peer address -> node index
	cut    map[link]bool
	block  map[link]bool // session traffic only
	mute   map[link]bool // gossip only
	drop   map[link]float64
	delay  map[link]time.Duration
	rand   *rand.Rand
	wg     sync.WaitGroup // delayed packets in flight
	closed bool
}

type link struct{ from, to int }

func newNetwork(seed int64) *Network {
	return &Network{
		gossip: map[string]int{}, peers: map[string]int{},
		cut: map[link]bool{}, block: map[link]bool{}, mute: map[link]bool{}, drop: map[link]float64{}, delay: map[link]time.Duration{},
		rand: rand.New(rand.NewSource(seed)),
	}
}

// fate returns what happens to one message on from -> to: lost (cut or
// dropped), whether it was cut, and how long it is held first.
func (n *Network) fate(from, to int) (lost, cut bool, delay time.Duration) {
	n.mu.Lock()
	defer n.mu.Unlock()
	l := link{from, to}
	if n.cut[l] {
		return true, true, 0
	}
	if p := n.drop[l]; p > 0 && n.rand.Float64() < p {
		return true, false, 0
	}
	return false, false, n.delay[l]
}

func (n *Network) nodeAt(table map[string]int, addr string) (int, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	i, ok := table[addr]
	return i, ok
}

func (n *Network) register(table map[string]int, addr string, i int) {
	n.mu.Lock()
	defer n.mu.Unlock()
	table[addr] = i
}

func (n *Network) setCut(from, to int, on bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if on {
		n.cut[link{from, to}] = true
	} else {
		delete(n.cut, link{from, to})
	}
}

// gossipLost reports whether one gossip packet or stream on from -> to is
// lost, and how long it is held first.
func (n *Network) gossipLost(from, to int) (bool, time.Duration) {
	lost, _, delay := n.fate(from, to)
	n.mu.Lock()
	defer n.mu.Unlock()
	return lost || n.mute[link{from, to}], delay
}

func (n *Network) blocked(from, to int) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.block[link{from, to}]
}

func (n *Network) isCut(from, to int) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.cut[link{from, to}]
}

// close stops delayed deliveries and waits for those in flight.
func (n *Network) close() {
	n.mu.Lock()
	n.closed = true
	n.mu.Unlock()
	n.wg.Wait()
}

// caller is node from's peer Caller behind the Network.
type caller struct {
	net   *Network
	from  int
	inner cluster.Caller
}

func (c *caller) Call(ctx context.Context, addr string, op uint8, body []byte) ([]byte, error) {
	to, known := c.net.nodeAt(c.net.peers, addr)
	if known {
		lost, cut, delay := c.net.fate(c.from, to)
		cut = cut || c.net.blocked(c.from, to)
		switch {
		case cut:
			return nil, fmt.Errorf("clustertest: node %d -> %d cut: %w", c.from, to, peer.ErrUnavailable)
		case lost:
			<-ctx.Done()
			return nil, fmt.Errorf("clustertest: node %d -> %d dropped: %w: %w", c.from, to, peer.ErrUnavailable, ctx.Err())
		case delay > 0:
			if err := sleep(ctx, delay); err != nil {
				return nil, fmt.Errorf("clustertest: node %d -> %d delayed: %w: %w", c.from, to, peer.ErrUnavailable, err)
			}
		}
	}
	return c.inner.Call(ctx, addr, op, body)
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// transport is node from's memberlist transport behind the Network. Only
// outgoing traffic is filtered: every node of the Cluster is behind the
// Network, so cutting both directions of a link silences it.
type transport struct {
	memberlist.Transport
	net  *Network
	from int
}

func (t *transport) WriteTo(b []byte, addr string) (time.Time, error) {
	to, known := t.net.nodeAt(t.net.gossip, addr)
	if !known {
		return t.Transport.WriteTo(b, addr)
	}
	lost, delay := t.net.gossipLost(t.from, to)
	switch {
	case lost:
		return time.Now(), nil // a lost datagram is not an error to the sender
	case delay > 0:
		return time.Now(), t.later(delay, b, addr)
	}
	return t.Transport.WriteTo(b, addr)
}

// later delivers a delayed packet from a tracked timer.
func (t *transport) later(d time.Duration, b []byte, addr string) error {
	t.net.mu.Lock()
	defer t.net.mu.Unlock()
	if t.net.closed {
		return nil
	}
	t.net.wg.Add(1)
	b = append([]byte(nil), b...)
	time.AfterFunc(d, func() {
		defer t.net.wg.Done()
		t.Transport.WriteTo(b, addr)
	})
	return nil
}

func (t *transport) DialTimeout(addr string, timeout time.Duration) (net.Conn, error) {
	if to, known := t.net.nodeAt(t.net.gossip, addr); known {
		if lost, delay := t.net.gossipLost(t.from, to); lost {
			return nil, fmt.Errorf("clustertest: node %d -> %d gossip stream cut", t.from, to)
		} else if delay > 0 {
			time.Sleep(min(delay, timeout))
		}
	}
	return t.Transport.DialTimeout(addr, timeout)
}
