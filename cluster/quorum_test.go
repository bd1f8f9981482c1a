package cluster

import (
	"testing"
	"time"
)

// The quorum guard's stable-set rule, one membership event at a time.
func TestStableSet(t *testing.T) {
	const after = 10 * time.Second
	t0 := time.Unix(1700000000, 0)
	type step struct {
		at      time.Duration // since t0
		joined  string        // a member joins (counted at once)
		left    string        // a member drained and left
		members []string      // the members seen after the event
		quorate bool
		stable  int // the stable set's size after the check
	}
	for _, tc := range []struct {
		name  string
		steps []step
	}{
		{"a crash, adopted once stable, then a second crash", []step{
			{at: 0, joined: "b", members: []string{"a", "b"}, quorate: true, stable: 2},
			{at: 0, joined: "c", members: []string{"a", "b", "c"}, quorate: true, stable: 3},
			{at: 20 * time.Second, members: []string{"a", "b"}, quorate: true, stable: 3}, // c crashed just now
			{at: 31 * time.Second, members: []string{"a", "b"}, quorate: true, stable: 2}, // stable for 11 s: adopted
			{at: 40 * time.Second, members: []string{"b"}, quorate: false, stable: 2},     // 1 of 2, without the first by name
			{at: 90 * time.Second, members: []string{"b"}, quorate: false, stable: 2},     // a minority never adopts itself
		}},
		{"two workers: the second crashes, the first serves on", []step{
			{at: 0, joined: "b", members: []string{"a", "b"}, quorate: true, stable: 2},
			{at: 20 * time.Second, members: []string{"a"}, quorate: true, stable: 2}, // half, with the first by name
			{at: 31 * time.Second, members: []string{"a"}, quorate: true, stable: 1}, // and adopted once stable
			{at: 40 * time.Second, joined: "b2", members: []string{"a", "b2"}, quorate: true, stable: 2},
		}},
		{"two workers: the first crashes, the second waits for a worker to come back", []step{
			{at: 0, joined: "b", members: []string{"a", "b"}, quorate: true, stable: 2},
			{at: 20 * time.Second, members: []string{"b"}, quorate: false, stable: 2},
			{at: time.Hour, members: []string{"b"}, quorate: false, stable: 2},
			{at: time.Hour + time.Second, joined: "a2", members: []string{"a2", "b"}, quorate: true, stable: 3}, // 2 of 3
		}},
		{"the minority side of a split", []step{
			{at: 0, joined: "b", members: []string{"a", "b"}, quorate: true, stable: 2},
			{at: 0, joined: "c", members: []string{"a", "b", "c"}, quorate: true, stable: 3},
			{at: 5 * time.Second, members: []string{"a"}, quorate: false, stable: 3},
			{at: time.Hour, members: []string{"a"}, quorate: false, stable: 3},
			{at: time.Hour + time.Second, members: []string{"a", "b", "c"}, quorate: true, stable: 3}, // healed
		}},
		{"a member that drained leaves the stable set at once", []step{
			{at: 0, joined: "b", members: []string{"a", "b"}, quorate: true, stable: 2},
			{at: 0, joined: "c", members: []string{"a", "b", "c"}, quorate: true, stable: 3},
			{at: 20 * time.Second, left: "c", members: []string{"a", "b"}, quorate: true, stable: 2},
			{at: 21 * time.Second, left: "b", members: []string{"a"}, quorate: true, stable: 1}, // a rolling restart keeps the quorum
		}},
		{"a joiner counts at once, so a split right after the join is no majority", []step{
			{at: 0, joined: "b", members: []string{"a", "b"}, quorate: true, stable: 2},
			{at: 1 * time.Second, joined: "c", members: []string{"a", "b", "c"}, quorate: true, stable: 3},
			{at: 2 * time.Second, joined: "d", members: []string{"a", "b", "c", "d"}, quorate: true, stable: 4},
			{at: 3 * time.Second, members: []string{"c", "d"}, quorate: false, stable: 4}, // 2 of 4, without the first
		}},
		{"an even split: only the half with the first member by name serves", []step{
			{at: 0, joined: "b", members: []string{"a", "b"}, quorate: true, stable: 2},
			{at: 0, joined: "c", members: []string{"a", "b", "c"}, quorate: true, stable: 3},
			{at: 0, joined: "d", members: []string{"a", "b", "c", "d"}, quorate: true, stable: 4},
			{at: 20 * time.Second, members: []string{"a", "d"}, quorate: true, stable: 4},
			{at: 20 * time.Second, members: []string{"b", "c"}, quorate: false, stable: 4},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := newStableSet("a", t0)
			seen := map[string]Member{"a": {Name: "a"}}
			for i, st := range tc.steps {
				now := t0.Add(st.at)
				if st.joined != "" {
					q.joined(st.joined)
				}
				if st.left != "" {
					q.left(st.left)
				}
				next := map[string]Member{}
				for _, n := range st.members {
					next[n] = Member{Name: n}
				}
				if !sameNames(seen, next) {
					q.changed(now)
				}
				seen = next
				if got := q.quorate(seen, now, after); got != st.quorate || q.size() != st.stable {
					t.Fatalf("step %d (%+v): quorate %t, stable %d; want %t, %d", i, st, got, q.size(), st.quorate, st.stable)
				}
			}
		})
	}
}

func sameNames(a, b map[string]Member) bool {
	if len(a) != len(b) {
		return false
	}
	for n := range a {
		if _, ok := b[n]; !ok {
			return false
		}
	}
	return true
}
