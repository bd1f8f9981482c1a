package cluster

import (
	"testing"

	"github.com/sessionmesh/sessionmesh/session"
)

// A node mints IDs it is primary of, so that behind a sticky balancer a
// session lives on the worker that serves it; the IDs stay well-formed
// and random. A node that owns nothing yet mints plain IDs.
func TestNewIDLandsOnThisNode(t *testing.T) {
	cfg := DefaultLocalConfig().withDefaults()
	cfg.Logger = discardLogger()
	members := []Member{{Name: "a", Addr: "a:1"}, {Name: "b", Addr: "b:1"}, {Name: "c", Addr: "c:1"}}
	s := stepNode(t, cfg, "b", nil, members...)
	seen := map[string]bool{}
	for range 300 {
		id := s.NewID()
		if !session.ValidID(id) || seen[id] {
			t.Fatalf("NewID = %q: not a fresh valid ID", id)
		}
		seen[id] = true
		if owner := s.Owner(id); owner != "b" {
			t.Fatalf("NewID on b gave an ID whose primary is %q", owner)
		}
	}

	members[1].Joining = true
	j := stepNode(t, cfg, "b", nil, members...)
	elsewhere := 0
	for range 300 {
		if j.Owner(j.NewID()) != "b" {
			elsewhere++
		}
	}
	if elsewhere != 300 {
		t.Fatalf("a joining node (primary of nothing) minted %d of 300 IDs elsewhere; want them all (it owns no partition)", elsewhere)
	}
}
