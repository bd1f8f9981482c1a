package cluster

import "testing"

// A node bound to every interface advertises the address it has on the
// way to its seeds, so that its cluster traffic uses their network.
func TestTowardSeedsPicksTheSeedsNetwork(t *testing.T) {
	for _, tc := range []struct {
		seeds []string
		want  string
	}{
		{[]string{"127.0.0.1:7946"}, "127.0.0.1"},
		{[]string{"localhost"}, "127.0.0.1"},                           // default port, name resolved
		{[]string{"no-such-seed.invalid", "127.0.0.1:1"}, "127.0.0.1"}, // the first that resolves
		{[]string{"no-such-seed.invalid"}, ""},                         // none: the caller falls back
		{nil, ""},
	} {
		if got := towardSeeds(tc.seeds, 7946); got != tc.want {
			t.Errorf("towardSeeds(%q) = %q, want %q", tc.seeds, got, tc.want)
		}
	}
}
