package netaddr

import "testing"

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
