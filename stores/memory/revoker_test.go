package memory

import (
	"context"
	"testing"
)

func TestRevokerGenerations(t *testing.T) {
	ctx := context.Background()
	r := NewRevoker()
	alice, _ := r.Generation(ctx, "alice")
	bob, _ := r.Generation(ctx, "bob")
	revoked, _ := r.Revoke(ctx, "alice")
	now, _ := r.Generation(ctx, "alice")
	if revoked == alice || now != revoked {
		t.Fatalf("alice at %d, revoked to %d, then at %d; want a new generation, kept", alice, revoked, now)
	}
	if again, _ := r.Generation(ctx, "bob"); again != bob {
		t.Fatalf("bob moved from %d to %d with alice's revoke", bob, again)
	}
}

// TestRevokerRestartGivesNoOldGeneration: a new Revoker (a restarted
// process) gives none of the generations the previous one gave, so the
// sessions revoked before the restart stay ended.
func TestRevokerRestartGivesNoOldGeneration(t *testing.T) {
	ctx := context.Background()
	before := NewRevoker()
	gave := map[uint64]bool{}
	for range 3 {
		g, _ := before.Generation(ctx, "alice")
		gave[g] = true
		before.Revoke(ctx, "alice")
	}
	after := NewRevoker()
	for _, p := range []string{"alice", "bob"} {
		if g, _ := after.Generation(ctx, p); gave[g] {
			t.Fatalf("after the restart %s is at %d, a generation given before it", p, g)
		}
	}
}
