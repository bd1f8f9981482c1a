package worker

import (
	"fmt"
	"net"
)

// freeAddr returns "127.0.0.1:port" for a port that was free a moment ago,
// for TCP and, when udp is set, for UDP too (memberlist gossips on both).
// Another process may take it before the worker binds it; a worker that
// fails to start for that reason is retried on new ports.
func freeAddr(udp bool) (string, error) {
	for range 20 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return "", fmt.Errorf("find free port: %w", err)
		}
		addr := l.Addr().String()
		free := !udp || udpFree(addr)
		l.Close()
		if free {
			return addr, nil
		}
	}
	return "", fmt.Errorf("find free port: none free for both TCP and UDP after 20 tries")
}

func udpFree(addr string) bool {
	c, err := net.ListenPacket("udp", addr)
	if err != nil {
		return false
	}
	c.Close()
	return true
}
