package cluster

import "testing"

// Which partitions a node stops holding at a table change: those it no
// longer owns, those a member it had not seen now owns too (it may hold
// writes this node missed), and those it becomes primary of after being a
// backup (a write the old primary could not copy here is elsewhere),
// unless it was joining (it has just pulled them, with every write).
func TestHoldingsUpdate(t *testing.T) {
	const parts = 64
	a, b, c, d := Member{Name: "a"}, Member{Name: "b"}, Member{Name: "c"}, Member{Name: "d"}
	tab := func(ms ...Member) *Table { return NewTable(ms, parts, 2, 1) }
	joiningA := a
	joiningA.Joining = true
	for _, tc := range []struct {
		name      string
		old, next *Table
		// want reports whether partition p is still held after the change.
		want func(old, next *Table, p int) bool
	}{
		{"nothing changes", tab(a, b, c), tab(a, b, c), func(_, next *Table, p int) bool {
			return next.IsOwner(p, "a")
		}},
		{"a member crashed: promoted backups re-pull", tab(a, b, c), tab(a, b), func(old, next *Table, p int) bool {
			return next.IsOwner(p, "a") && !(next.IsPrimary(p, "a") && !old.IsPrimary(p, "a"))
		}},
		{"a member this node had not seen (a heal)", tab(a, b), tab(a, b, d), func(_, next *Table, p int) bool {
			return next.IsOwner(p, "a") && !next.IsOwner(p, "d")
		}},
		{"a joiner is not fresh: it pulled from the owners", tab(a, b, c), tab(a, b, c, Member{Name: "d", Joining: true}),
			func(_, next *Table, p int) bool { return next.IsOwner(p, "a") }},
		{"this node was joining: promoted partitions stay held", tab(joiningA, b, c), tab(a, b, c), func(_, next *Table, p int) bool {
			return next.IsOwner(p, "a")
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHoldings(parts)
			for p := range parts {
				h.markHeld(p, 0)
			}
			h.update(tc.old, tc.next, "a", ownedBy(tc.next, "a"))
			kept := 0
			for p := range parts {
				want := tc.want(tc.old, tc.next, p)
				if h.holds(p) != want {
					t.Errorf("partition %d held = %t; want %t (old owners %v, new %v)", p, h.holds(p), want,
						names(tc.old.Owners(p)), names(tc.next.Owners(p)))
				}
				if want {
					kept++
				}
			}
			if kept == 0 {
				t.Fatal("the case keeps no partition: it checks nothing")
			}
		})
	}
}

// A pull that started before a partition was dropped cannot mark it held.
func TestHoldingsGenerations(t *testing.T) {
	h := newHoldings(4)
	t0 := NewTable(nil, 4, 2, 0)
	owned := []bool{true, true, false, true}
	parts, gens, _ := h.wanted(t0, owned, 2)
	if len(parts) != 2 || parts[0] != 0 || parts[1] != 1 {
		t.Fatalf("wanted = %v; want the first 2 owned partitions", parts)
	}
	h.dropAll() // e.g. a pause check found a member that lost sight of this node
	h.markHeld(parts[0], gens[0])
	if h.holds(parts[0]) {
		t.Fatal("a pull from before the drop marked its partition held")
	}
	parts, gens, _ = h.wanted(t0, owned, 10)
	for i, p := range parts {
		h.markHeld(p, gens[i])
	}
	if h.missing(owned) != 0 || h.holds(2) {
		t.Fatalf("after pulling every owned partition: %d missing, partition 2 held %t", h.missing(owned), h.holds(2))
	}
}

// A pull round that read the table just before a change (the holdings are
// updated before the new table is published) gets nothing to pull: with
// the old table's ownership and the new generations it would mark held a
// partition this node no longer owns, and so never pull it again when it
// owns it once more. TestPrincipalSessionsAcrossACrash lost sessions that
// way after a crash, one run in about fifteen.
func TestHoldingsWantNothingForAnOutdatedTable(t *testing.T) {
	a, b := Member{Name: "a", Addr: "a:1"}, Member{Name: "b", Addr: "b:1"}
	old := NewTable([]Member{a}, 8, 2, 1)
	next := NewTable([]Member{a, b}, 8, 2, 2)
	h := newHoldings(8)
	h.update(NewTable(nil, 8, 2, 0), old, "a", ownedBy(old, "a"))
	h.update(old, next, "a", ownedBy(next, "a"))
	if parts, _, current := h.wanted(old, ownedBy(old, "a"), 8); current || len(parts) != 0 {
		t.Fatalf("wanted with the outdated table = %v, current %v; want nothing", parts, current)
	}
	if _, _, current := h.wanted(next, ownedBy(next, "a"), 8); !current {
		t.Fatal("wanted with the table the holdings were updated for is not current")
	}
}

func names(ms []Member) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.Name
	}
	return out
}
