package stores

import "testing"

// The cluster block maps to the node's Config: the quorum guard is on
// unless the block turns it off (availability first, an explicit choice).
func TestClusterBlockQuorum(t *testing.T) {
	off, on := false, true
	for _, tc := range []struct {
		quorum         *bool
		availableFirst bool
	}{{nil, false}, {&on, false}, {&off, true}} {
		c := ClusterConfig{Bind: "127.0.0.1:0", Quorum: tc.quorum}
		if got := c.node(nil, nil).AvailableFirst; got != tc.availableFirst {
			t.Errorf("quorum %v: AvailableFirst %t; want %t", tc.quorum, got, tc.availableFirst)
		}
	}
}
