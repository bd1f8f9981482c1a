// Package netaddr holds the address rules that more than one package of the
// module applies, so that they cannot drift apart.
package netaddr

import "net"

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
