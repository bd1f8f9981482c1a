package memcache

import (
	"cmp"
	"crypto/md5"
	"encoding/binary"
	"net"
	"slices"
	"strconv"
	"strings"

	"github.com/bradfitz/gomemcache/memcache"
)

// pointsPerServer is how many points each server has on the ring: 40 MD5
// digests of 4 points each, as libketama. With 160, each of 2 to 8 servers
// holds its even share of keys within about ±15% (measured with 200,000
// random session IDs); fewer points spread keys less evenly, more cost
// memory and start-up time for little gain.
const pointsPerServer = 160

// ring is a memcache.ServerSelector with consistent hashing, built as
// libketama builds its continuum for servers of equal weight: each server
// name s gets the points md5(s+"-"+i), i in 0..39, each digest read as four
// little-endian uint32s; a key goes to the server of the first point at or
// after the first four bytes (little-endian) of md5(key), wrapping around.
// Adding or removing one server of N therefore moves only about 1/N of the
// keys, those of the arcs it gains or loses, where gomemcache's ServerList
// (crc32 mod N) moves almost all of them.
//
// MD5 is used for its spread and for libketama's layout (a libketama
// client given the same server names should find the same server; the
// tests check the points against MD5 computed elsewhere, not against such
// a client), not for security: the keys are random session IDs already. A pick costs about
// 0.3-0.5 µs (BenchmarkRingPickServer), against crc32's tens of
// nanoseconds, both small beside the round trip it picks a server for. The points come
// from the names as configured, not the resolved addresses, so a server
// whose name resolves to a new address keeps its sessions' keys.
//
// Addresses are resolved once, in newRing, as ServerList.SetServers does;
// a ring never changes after that, so it needs no lock.
type ring struct {
	points []point
	addrs  []net.Addr // resolved, in the configured order
	names  []string   // as configured, index-aligned with addrs
}

// point is one point of the ring and the index of its server.
type point struct {
	hash   uint32
	server int
}

var _ memcache.ServerSelector = (*ring)(nil)

// newRing resolves servers ("host:port" or a Unix socket path) and lays
// out their points. Names must be distinct (Config.Validate checks).
func newRing(servers []string) (*ring, error) {
	if len(servers) == 0 {
		return nil, memcache.ErrNoServers
	}
	r := &ring{names: servers, points: make([]point, 0, len(servers)*pointsPerServer)}
	for i, name := range servers {
		addr, err := resolve(name)
		if err != nil {
			return nil, err
		}
		r.addrs = append(r.addrs, addr)
		for rep := range pointsPerServer / 4 {
			d := md5.Sum([]byte(name + "-" + strconv.Itoa(rep)))
			for h := range 4 {
				r.points = append(r.points, point{binary.LittleEndian.Uint32(d[4*h:]), i})
			}
		}
	}
	// Ties between two servers' points (rare: 32-bit hashes) go to the
	// lower name, so the order of Config.Servers never matters.
	slices.SortFunc(r.points, func(a, b point) int {
		return cmp.Or(cmp.Compare(a.hash, b.hash), strings.Compare(r.names[a.server], r.names[b.server]))
	})
	return r, nil
}

// resolve returns name's address the way ServerList.SetServers does: a
// name with a slash is a Unix socket, anything else a TCP address.
func resolve(name string) (net.Addr, error) {
	var addr net.Addr
	var err error
	if strings.Contains(name, "/") {
		addr, err = net.ResolveUnixAddr("unix", name)
	} else {
		addr, err = net.ResolveTCPAddr("tcp", name)
	}
	if err != nil {
		return nil, err
	}
	return staticAddr{addr.Network(), addr.String()}, nil
}

// staticAddr keeps an address's Network and String, which gomemcache calls
// on every request (its connection pool is keyed by String).
type staticAddr struct{ network, str string }

func (a staticAddr) Network() string { return a.network }
func (a staticAddr) String() string  { return a.str }

// PickServer returns the server that holds key.
func (r *ring) PickServer(key string) (net.Addr, error) {
	return r.addrs[r.server(key)], nil
}

// server returns the index of key's server.
func (r *ring) server(key string) int {
	if len(r.addrs) == 1 {
		return 0
	}
	d := md5.Sum([]byte(key))
	h := binary.LittleEndian.Uint32(d[:4])
	i, _ := slices.BinarySearchFunc(r.points, h, func(p point, h uint32) int { return cmp.Compare(p.hash, h) })
	if i == len(r.points) {
		i = 0 // past the last point: the ring wraps to the first
	}
	return r.points[i].server
}

// Each calls f with every server, in the configured order, until f fails.
func (r *ring) Each(f func(net.Addr) error) error {
	for _, a := range r.addrs {
		if err := f(a); err != nil {
			return err
		}
	}
	return nil
}
