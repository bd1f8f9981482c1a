package peer

import (
	"fmt"
	"net"
	"sync"
)

// gate counts the connections that are in the handshake, in all and per
// source IP, and turns away one that would exceed MaxHandshakes or
// MaxHandshakesPerIP. Until it authenticates, a connection is whoever
// reached the port: without a cap a flood of connections that never speak
// holds a goroutine, memory and a file descriptor each for
// HandshakeTimeout (the audit's M2: 6,600 of them held 250 MB). Only the
// handshake counts: an authenticated connection is a member's, and many
// members may share an address (a test cluster on loopback, hosts behind
// NAT).
type gate struct {
	max, perIP int

	mu    sync.Mutex // guards total and byIP
	total int
	byIP  map[string]int // source IP -> handshakes in progress; no zero entries
}

func newGate(max, perIP int) *gate {
	return &gate{max: max, perIP: perIP, byIP: make(map[string]int)}
}

// enter admits a connection from ip to the handshake, or says which cap
// it would exceed. An admitted connection must leave.
func (g *gate) enter(ip string) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	switch {
	case g.total >= g.max:
		return fmt.Errorf("%d handshakes in progress, MaxHandshakes is %d", g.total, g.max)
	case g.byIP[ip] >= g.perIP:
		return fmt.Errorf("%d handshakes in progress from %s, MaxHandshakesPerIP is %d", g.byIP[ip], ip, g.perIP)
	}
	g.total++
	g.byIP[ip]++
	return nil
}

// leave ends the handshake of a connection from ip that entered.
func (g *gate) leave(ip string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.total--
	if g.byIP[ip]--; g.byIP[ip] <= 0 {
		delete(g.byIP, ip)
	}
}

// sourceIP is the IP a connection comes from: the key of the per-IP cap.
func sourceIP(nc net.Conn) string {
	if a, ok := nc.RemoteAddr().(*net.TCPAddr); ok {
		return a.IP.String()
	}
	addr := nc.RemoteAddr().String()
	if host, _, err := net.SplitHostPort(addr); err == nil {
		return host
	}
	return addr
}
