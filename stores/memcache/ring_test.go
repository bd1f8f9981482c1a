package memcache

import (
	"cmp"
	"errors"
	"net"
	"slices"
	"testing"

	"github.com/sessionmesh/sessionmesh/session"
)

// TestRingPoints: the points are libketama's for servers of equal weight
// (values computed separately, with Python's hashlib): md5(name+"-"+i) read
// as four little-endian uint32s; a key hashes to the first four bytes of its
// md5, little-endian.
func TestRingPoints(t *testing.T) {
	r := mustRing(t, "127.0.0.1:11211")
	if len(r.points) != 160 {
		t.Fatalf("%d points; want 160", len(r.points))
	}
	for _, want := range []uint32{2589391586, 1482608462, 2562656683, 1506298073, 2829846691, 611707771} {
		if _, ok := slices.BinarySearchFunc(r.points, want, func(p point, h uint32) int { return cmp.Compare(p.hash, h) }); !ok {
			t.Errorf("no point %d on the ring", want)
		}
	}
	two := mustRing(t, "127.0.0.1:11211", "127.0.0.1:11212")
	h := uint32(1147528260) // md5("sess:abc")
	i, _ := slices.BinarySearchFunc(two.points, h, func(p point, h uint32) int { return cmp.Compare(p.hash, h) })
	if got, want := two.server("sess:abc"), two.points[i%len(two.points)].server; got != want {
		t.Errorf("server(sess:abc) = %d; want %d, the server of the first point at or after %d", got, want, h)
	}
}

// TestRingMoves: with 3 servers and 10,000 session keys, adding a 4th moves
// about a quarter of the keys, all of them to the new server; removing one
// moves only that server's keys; each server holds its share within ±30%;
// and the order of the server list does not matter.
func TestRingMoves(t *testing.T) {
	keys := make([]string, 10_000)
	for i := range keys {
		keys[i] = "sess:" + session.NewID()
	}
	three := []string{"10.0.0.1:11211", "10.0.0.2:11211", "10.0.0.3:11211"}
	four := append(slices.Clone(three), "10.0.0.4:11211")
	before := placement(t, keys, three...)

	wantEven(t, before, len(three))
	after := placement(t, keys, four...)
	moved := 0
	for k, srv := range after {
		if srv != before[k] {
			moved++
			if srv != four[3] {
				t.Fatalf("adding %s moved %s from %s to %s", four[3], k, before[k], srv)
			}
		}
	}
	if frac := float64(moved) / float64(len(keys)); frac < 0.15 || frac > 0.35 {
		t.Errorf("adding a 4th server moved %.1f%% of the keys; want 15-35%% (ideal 25%%)", 100*frac)
	}
	wantEven(t, after, len(four))

	for drop := range three {
		rest := slices.Delete(slices.Clone(three), drop, drop+1)
		for k, srv := range placement(t, keys, rest...) {
			if before[k] != three[drop] && srv != before[k] {
				t.Fatalf("removing %s moved %s from %s to %s", three[drop], k, before[k], srv)
			}
		}
	}

	reversed := slices.Clone(four)
	slices.Reverse(reversed)
	for k, srv := range placement(t, keys, reversed...) {
		if srv != after[k] {
			t.Fatalf("the servers in another order put %s on %s, not %s", k, srv, after[k])
		}
	}
}

// TestRingOneServer: one server takes every key, as ServerList does, and
// Each visits the servers in the configured order.
func TestRingOneServer(t *testing.T) {
	r := mustRing(t, "127.0.0.1:11211")
	if addr, err := r.PickServer("anything"); err != nil || addr.String() != "127.0.0.1:11211" || addr.Network() != "tcp" {
		t.Fatalf("PickServer = %v, %v", addr, err)
	}
	r = mustRing(t, "127.0.0.1:3", "/tmp/mc.sock", "127.0.0.1:1")
	var got []string
	stop := errors.New("stop")
	err := r.Each(func(a net.Addr) error {
		got = append(got, a.Network()+" "+a.String())
		if len(got) == 2 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || !slices.Equal(got, []string{"tcp 127.0.0.1:3", "unix /tmp/mc.sock"}) {
		t.Fatalf("Each = %v, visited %v; want the first two in order, then its error", err, got)
	}
}

// TestRingUnresolvable: a name that does not resolve fails newRing.
func TestRingUnresolvable(t *testing.T) {
	if _, err := newRing([]string{"127.0.0.1:11211", "no-such-host.invalid:11211"}); err == nil {
		t.Fatal("newRing accepted a host that does not resolve")
	}
}

func BenchmarkRingPickServer(b *testing.B) {
	r, err := newRing([]string{"10.0.0.1:11211", "10.0.0.2:11211", "10.0.0.3:11211"})
	if err != nil {
		b.Fatal(err)
	}
	key := "sess:" + session.NewID()
	for b.Loop() {
		r.PickServer(key)
	}
}

func mustRing(t *testing.T, servers ...string) *ring {
	t.Helper()
	r, err := newRing(servers)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// placement maps each key to the name of its server on a ring of servers.
func placement(t *testing.T, keys []string, servers ...string) map[string]string {
	t.Helper()
	r := mustRing(t, servers...)
	m := make(map[string]string, len(keys))
	for _, k := range keys {
		m[k] = r.names[r.server(k)]
	}
	return m
}

// wantEven checks that each of n servers holds its share of the keys
// within ±30%.
func wantEven(t *testing.T, placed map[string]string, n int) {
	t.Helper()
	count := map[string]int{}
	for _, srv := range placed {
		count[srv]++
	}
	share := float64(len(placed)) / float64(n)
	if len(count) != n {
		t.Errorf("keys on %d servers; want %d", len(count), n)
	}
	for srv, c := range count {
		if f := float64(c) / share; f < 0.7 || f > 1.3 {
			t.Errorf("%s holds %d keys, %.0f%% of an even share; want 70-130%%", srv, c, 100*f)
		}
	}
}
