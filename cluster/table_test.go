package cluster

import (
	"encoding/base64"
	"fmt"
	"hash/fnv"
	"math/rand"
	"slices"
	"testing"

	"github.com/sessionmesh/sessionmesh/session"
)

// randomMembers returns n members named like real nodes: a name and a
// random boot ID.
func randomMembers(r *rand.Rand, n int) []Member {
	ms := make([]Member, n)
	for i := range ms {
		ms[i] = Member{Name: fmt.Sprintf("worker%d-%016x", i, r.Uint64()), Addr: fmt.Sprintf("10.0.0.%d:7947", i)}
	}
	return ms
}

func TestTableSameMembersSameTable(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	for trial := 0; trial < 100; trial++ {
		ms := randomMembers(r, 1+r.Intn(7))
		a := NewTable(ms, 271, 1+r.Intn(3), 1)
		shuffled := slices.Clone(ms)
		r.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		b := NewTable(shuffled, 271, a.replicas, 9)
		if a.Fingerprint() != b.Fingerprint() {
			t.Fatalf("trial %d: fingerprints differ for the same members", trial)
		}
		for p := 0; p < 271; p++ {
			if !slices.Equal(a.Owners(p), b.Owners(p)) {
				t.Fatalf("trial %d: partition %d: owners %v vs %v for the same members", trial, p, a.Owners(p), b.Owners(p))
			}
		}
	}
}

func TestTableOwnersAreDistinctAndBounded(t *testing.T) {
	r := rand.New(rand.NewSource(2))
	for trial := 0; trial < 50; trial++ {
		n, replicas := 1+r.Intn(6), 1+r.Intn(4)
		tb := NewTable(randomMembers(r, n), 271, replicas, 1)
		for p := 0; p < 271; p++ {
			own := tb.Owners(p)
			if len(own) != min(n, replicas) {
				t.Fatalf("%d members, N=%d: partition %d has %d owners", n, replicas, p, len(own))
			}
			names := map[string]bool{}
			for _, m := range own {
				names[m.Name] = true
			}
			if len(names) != len(own) {
				t.Fatalf("partition %d: owners not distinct: %v", p, own)
			}
			if order := tb.Order(p); !slices.Equal(order[:len(own)], own) || len(order) != n {
				t.Fatalf("partition %d: Order %v does not start with Owners %v", p, order, own)
			}
		}
	}
}

// Removing a member must move only the partitions that had it in their top
// N, and there the survivors keep their relative order: the successor of a
// failed primary is the backup that already holds the data.
func TestTableRemovingMemberMovesOnlyItsPartitions(t *testing.T) {
	r := rand.New(rand.NewSource(3))
	for trial := 0; trial < 60; trial++ {
		ms := randomMembers(r, 2+r.Intn(6))
		replicas := 1 + r.Intn(3)
		before := NewTable(ms, 271, replicas, 1)
		gone := ms[r.Intn(len(ms))]
		rest := slices.DeleteFunc(slices.Clone(ms), func(m Member) bool { return m.Name == gone.Name })
		after := NewTable(rest, 271, replicas, 2)
		for p := 0; p < 271; p++ {
			checkRemoval(t, p, gone.Name, before.Owners(p), after.Owners(p))
		}
	}
}

func checkRemoval(t *testing.T, p int, gone string, before, after []Member) {
	t.Helper()
	had := slices.ContainsFunc(before, func(m Member) bool { return m.Name == gone })
	if !had {
		if !slices.Equal(before, after) {
			t.Fatalf("partition %d did not have %s but changed: %v -> %v", p, gone, before, after)
		}
		return
	}
	kept := slices.DeleteFunc(slices.Clone(before), func(m Member) bool { return m.Name == gone })
	if !slices.Equal(after[:len(kept)], kept) {
		t.Fatalf("partition %d: survivors reordered after removing %s: %v -> %v", p, gone, before, after)
	}
}

func TestTableDrainingMemberOwnsNothing(t *testing.T) {
	ms := randomMembers(rand.New(rand.NewSource(4)), 3)
	ms[1].Draining = true
	tb := NewTable(ms, 271, 2, 1)
	if primary, backup := tb.Roles(ms[1].Name); len(primary)+len(backup) != 0 {
		t.Fatalf("draining member owns %d+%d partitions", len(primary), len(backup))
	}
	if m, ok := tb.Member(ms[1].Name); !ok || !m.Draining {
		t.Fatalf("draining member missing from the table: %v %v", m, ok)
	}
	if NewTable(ms, 271, 2, 1).Fingerprint() == NewTable(randomMembers(rand.New(rand.NewSource(4)), 3), 271, 2, 1).Fingerprint() {
		t.Fatal("draining flag does not change the fingerprint")
	}
}

// Sessions spread over the nodes in proportion: with the default number of
// partitions every node of 3 to 7 holds (as primary or backup) within 10%
// of the mean number of session copies, and each of three nodes is primary
// for within 10% of a third of them.
func TestTableSessionsSpreadEvenly(t *testing.T) {
	r := rand.New(rand.NewSource(5))
	ids := make([]string, 50000)
	for i := range ids {
		var b [session.IDBytes]byte
		r.Read(b[:])
		ids[i] = base64.RawURLEncoding.EncodeToString(b[:])
	}
	partitions := DefaultConfig().Partitions
	for trial := 0; trial < 50; trial++ {
		n := 3 + trial%5
		tb := NewTable(randomMembers(r, n), partitions, 2, 1)
		if worst := worstSpread(tb, ids, 2); worst > 0.10 {
			t.Errorf("%d nodes (trial %d): a node holds %.1f%% off the mean", n, trial, 100*worst)
		}
		if n != 3 {
			continue
		}
		if worst := worstSpread(tb, ids, 1); worst > 0.10 {
			t.Errorf("3 nodes (trial %d): a node is primary for %.1f%% off a third", trial, 100*worst)
		}
	}
}

// worstSpread returns the largest relative distance of a node's session
// copies from the mean.
// Only the first copies of each session count (1: primaries only).
func worstSpread(tb *Table, ids []string, copies int) float64 {
	held := map[string]int{}
	for _, id := range ids {
		own := tb.Owners(tb.Partition(id))
		for _, m := range own[:min(copies, len(own))] {
			held[m.Name]++
		}
	}
	mean := float64(len(ids)*min(copies, len(tb.members))) / float64(len(tb.members))
	worst := 0.0
	for _, m := range tb.members {
		worst = max(worst, abs(float64(held[m.Name])/mean-1))
	}
	return worst
}

func abs(f float64) float64 {
	if f < 0 {
		return -f
	}
	return f
}

func TestTablePartitionIsStableAndInRange(t *testing.T) {
	tb := NewTable(randomMembers(rand.New(rand.NewSource(6)), 3), 271, 2, 1)
	counts := make([]int, 271)
	for i := 0; i < 27100; i++ {
		id := session.NewID()
		p := tb.Partition(id)
		if p != tb.Partition(id) || p < 0 || p >= 271 {
			t.Fatalf("partition of %s: %d", id, p)
		}
		counts[p]++
	}
	for p, c := range counts {
		if c < 50 || c > 150 { // mean 100; 5 sigma is 50
			t.Fatalf("partition %d got %d of 27100 sessions", p, c)
		}
	}
}

// Every version routes a session the same way, or a rolling upgrade would
// split it between two owners: the partition is FNV-1a of the ID, mixed,
// whether the ID comes as a string or as a walk's bytes.
func TestTablePartitionIsFNVOfTheID(t *testing.T) {
	tb := NewTable(randomMembers(rand.New(rand.NewSource(6)), 3), 271, 2, 1)
	for range 100 {
		id := session.NewID()
		h := fnv.New64a()
		h.Write([]byte(id))
		want := int(mix64(h.Sum64()) % 271)
		if got, gotBytes := tb.Partition(id), partitionOf(tb, []byte(id)); got != want || gotBytes != want {
			t.Fatalf("partition of %s: %d (as bytes %d); want %d", id, got, gotBytes, want)
		}
	}
}

// Two workers that join at once pull from each other too (and so register
// with each other for copies of the writes): each may serve as primary
// while its table still shows the other joining. Seen in the compose
// scale step: the one whose table was behind wrote without the other,
// which answered a read from its stale copy. A ready node pulling again
// (after a crash) needs no joining member's copies.
func TestJoinersPullFromEachOther(t *testing.T) {
	members := []Member{{Name: "a", Addr: "a:1"}, {Name: "b", Addr: "b:1"}, {Name: "c", Addr: "c:1"},
		{Name: "j1", Addr: "j1:1", Joining: true}, {Name: "j2", Addr: "j2:1", Joining: true}}
	tb := NewTable(members, 64, 2, 1)
	for p := range tb.Partitions() {
		names := func(self Member) map[string]bool {
			got := map[string]bool{}
			for _, m := range pullSources(tb, p, self) {
				got[m.Name] = true
			}
			return got
		}
		j1 := names(members[3])
		if !j1["j2"] || j1["j1"] {
			t.Fatalf("partition %d: joining j1 pulls from %v; want j2 among them, not itself", p, j1)
		}
		for _, m := range tb.Candidates(p) {
			if !j1[m.Name] {
				t.Fatalf("partition %d: joining j1 pulls from %v; want every candidate (%s missing)", p, j1, m.Name)
			}
		}
		if a := names(members[0]); a["j1"] || a["j2"] {
			t.Fatalf("partition %d: ready a pulls from %v; want no joining member", p, a)
		}
	}
}
