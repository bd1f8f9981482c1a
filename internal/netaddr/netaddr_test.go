package netaddr

import (
	"net"
	"strconv"
	"testing"
)

func TestIsLoopback(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1:7946": true, "127.0.0.1": true, "127.1.2.3:0": true, "[::1]:7946": true, "::1": true,
		"localhost": true, "localhost:7946": true,
		"0.0.0.0:7946": false, "10.0.0.5": false, "[::]:0": false, "worker1": false, "worker1:7946": false, "": false,
	} {
		if got := IsLoopback(addr); got != want {
			t.Errorf("IsLoopback(%q) = %v, want %v", addr, got, want)
		}
	}
}

// A free address is one the caller can bind at once, for TCP and UDP.
func TestFreeLoopback(t *testing.T) {
	addr, err := FreeLoopback(true)
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("listen on the free address %s: %v", addr, err)
	}
	defer l.Close()
	u, err := net.ListenPacket("udp", addr)
	if err != nil {
		t.Fatalf("listen for UDP on the free address %s: %v", addr, err)
	}
	u.Close()
	// Outside the ephemeral range, where the kernel does not hand it to
	// an outgoing connection once the check above closed it.
	if lo, hi := pickRange(); hi > lo {
		_, p, _ := net.SplitHostPort(addr)
		if port, _ := strconv.Atoi(p); port < lo || port >= hi {
			t.Errorf("free port %d; want one in [%d, %d), below the ephemeral range", port, lo, hi)
		}
	}
}
