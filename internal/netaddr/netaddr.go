// Package netaddr holds the address rules that more than one package of the
// module applies, so that they cannot drift apart.
package netaddr

import (
	"errors"
	"fmt"
	"net"
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
func FreeLoopback(udp bool) (string, error) {
	for range 20 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return "", fmt.Errorf("find a free port: %w", err)
		}
		addr := l.Addr().String()
		free := !udp || udpFree(addr)
		l.Close()
		if free {
			return addr, nil
		}
	}
	return "", errors.New("find a free port: none free for both TCP and UDP after 20 tries")
}

func udpFree(addr string) bool {
	c, err := net.ListenPacket("udp", addr)
	if err != nil {
		return false
	}
	c.Close()
	return true
}
