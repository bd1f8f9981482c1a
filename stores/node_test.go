package stores

import (
	"errors"
	"testing"
)

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

// backupReads: false turns the read leases off; unset keeps them.
func TestClusterBlockBackupReads(t *testing.T) {
	off, on := false, true
	for _, tc := range []struct {
		reads *bool
		on    bool
	}{{nil, true}, {&on, true}, {&off, false}} {
		c := ClusterConfig{Bind: "127.0.0.1:0", BackupReads: tc.reads}
		if got := c.node(nil, nil).ReadLease > 0; got != tc.on {
			t.Errorf("backupReads %v: read leases %t; want %t", tc.reads, got, tc.on)
		}
	}
}

// The block's snapshot is the node's snapshot file.
func TestClusterBlockSnapshot(t *testing.T) {
	c := ClusterConfig{Bind: "127.0.0.1:0", Snapshot: "/var/lib/sessions/worker.snapshot"}
	if got := c.node(nil, nil).Snapshot; got != c.Snapshot {
		t.Fatalf("Snapshot %q; want %q", got, c.Snapshot)
	}
}

// leaves flattens nested errors.Join, so that every error the cluster's
// Validate joins is mapped to its YAML field, however it groups them.
func TestLeaves(t *testing.T) {
	a, b, c := errors.New("a"), errors.New("b"), errors.New("c")
	got := leaves(errors.Join(a, errors.Join(b, nil, c)))
	if len(got) != 3 || got[0] != a || got[1] != b || got[2] != c {
		t.Fatalf("leaves = %v; want [a b c]", got)
	}
	if got := leaves(nil); got != nil {
		t.Fatalf("leaves(nil) = %v; want none", got)
	}
	if got := leaves(a); len(got) != 1 || got[0] != a {
		t.Fatalf("leaves(a) = %v; want [a]", got)
	}
}
