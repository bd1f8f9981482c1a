// Package netaddr holds the address rules that more than one package of the
// module applies, so that they cannot drift apart.
package netaddr

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
)

// IsLoopback reports whether the host of addr ("host[:port]") is a loopback
// address or "localhost". A host name other than localhost is not: it may
// resolve to anything.
func IsLoopback(addr string) bool {
	host := addr
	if h, _, err := net.SplitHostPort(addr); err == nil {
		host = h
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// FreeLoopback returns "127.0.0.1:port" for a port that was free a moment
// ago, for TCP and, when udp is set, for UDP too (memberlist gossips on
// both). Another process may take it before the caller binds it: a
// caller that fails to bind tries again with a new one.
//
// The port is picked at random below the kernel's ephemeral range
// (ip_local_port_range), not by binding port 0: a port the kernel hands
// out is in that range, and once it is closed, the kernel hands it out
// again as the local port of anyone's next outgoing connection (a peer
// dial, a Redis client of a test running beside), which then holds it
// when the caller binds. Below the range only another explicit pick can
// take it. Where the range cannot be read, port 0 is used.
func FreeLoopback(udp bool) (string, error) {
	lo, hi := pickRange()
	for range 50 {
		port := 0
		if hi > lo {
			port = lo + rand.IntN(hi-lo)
		}
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err != nil {
			if port == 0 {
				return "", fmt.Errorf("find a free port: %w", err)
			}
			continue // taken
		}
		addr := l.Addr().String()
		free := !udp || udpFree(addr)
		l.Close()
		if free {
			return addr, nil
		}
	}
	return "", errors.New("find a free port: none free for both TCP and UDP after 50 tries")
}

// pickRange is where FreeLoopback picks ports: from 10000 up to the start
// of the ephemeral range; empty (lo == hi) where that is not known or
// leaves no room.
func pickRange() (lo, hi int) {
	const floor = 10000
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 0, 0
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		return 0, 0
	}
	start, err := strconv.Atoi(f[0])
	if err != nil || start <= floor+1000 {
		return 0, 0
	}
	return floor, start
}

func udpFree(addr string) bool {
	c, err := net.ListenPacket("udp", addr)
	if err != nil {
		return false
	}
	c.Close()
	return true
}
