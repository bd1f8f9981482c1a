package cluster

import (
	"slices"
	"testing"
	"time"
)

// A puller gets copies of the writes to the partitions it registered for
// while it is joining (or not yet a member here), until its lease ends.
func TestReceivers(t *testing.T) {
	t0 := time.Unix(1700000000, 0)
	lease := t0.Add(time.Minute)
	a, b, c := Member{Name: "a", Addr: "a:1"}, Member{Name: "b", Addr: "b:1"}, Member{Name: "c", Addr: "c:1"}
	table := func(ms ...Member) *Table { return NewTable(ms, 16, 2, 1) }
	names := func(ms []Member) []string {
		out := []string{}
		for _, m := range ms {
			out = append(out, m.Name)
		}
		slices.Sort(out)
		return out
	}
	joining := func(m Member) Member { m.Joining = true; return m }

	var r receivers
	r.add(c, []int{1, 2}, lease)
	r.add(b, []int{2}, lease)
	for _, tc := range []struct {
		name string
		p    int
		t    *Table
		now  time.Time
		want []string
	}{
		{"not a member here yet", 1, table(a, b), t0, []string{"c"}},
		{"joining", 1, table(a, b, joining(c)), t0, []string{"c"}},
		{"two pullers, self excluded", 2, table(a, b, joining(c)), t0, []string{"c"}},
		{"another partition", 3, table(a, b, joining(c)), t0, []string{}},
		{"ready now: it owns the partition or needs nothing", 1, table(a, b, c), t0, []string{}},
		{"forgotten once done", 1, table(a, b, joining(c)), t0, []string{}},
	} {
		if got := names(r.of(tc.p, tc.t, "b", tc.now)); !slices.Equal(got, tc.want) {
			t.Errorf("%s: of(%d) = %v; want %v", tc.name, tc.p, got, tc.want)
		}
	}

	r.add(c, []int{5}, lease)
	if got := names(r.of(5, table(a, b), "b", lease.Add(time.Second))); len(got) != 0 {
		t.Errorf("after its lease a puller never seen in the table gets copies: %v", got)
	}
	r.add(c, []int{6, 7}, lease)
	if m, ok := r.lookup("c"); !ok || m != c {
		t.Errorf("lookup(c) = %+v, %t; want c", m, ok)
	}
	r.forget("c")
	if _, ok := r.lookup("c"); ok {
		t.Error("a forgotten puller is still looked up")
	}
	r.add(c, []int{8}, lease)
	r.prune(table(a, b), lease.Add(time.Second))
	if len(r.byPart) != 0 {
		t.Errorf("prune after the lease left %v", r.byPart)
	}
}
