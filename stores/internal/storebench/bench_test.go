package storebench

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	gomemcache "github.com/bradfitz/gomemcache/memcache"
	goredis "github.com/redis/go-redis/v9"
	"go.uber.org/goleak"

	"github.com/sessionmesh/sessionmesh/internal/servertest"
	"github.com/sessionmesh/sessionmesh/session"
	"github.com/sessionmesh/sessionmesh/stores/memcache"
	"github.com/sessionmesh/sessionmesh/stores/memory"
	"github.com/sessionmesh/sessionmesh/stores/redis"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// sessionValues is a typical small session: a user, a CSRF token, a cart
// and a counter, about 200 bytes encoded.
func sessionValues() map[string][]byte {
	return map[string][]byte{
		"user":    []byte(`{"id":12345,"name":"Ada Lovelace","email":"ada@example.com","roles":["admin"]}`),
		"csrf":    []byte(`"` + session.NewID() + `"`),
		"cart":    []byte(`[101,202,303]`),
		"theme":   []byte(`"dark"`),
		"counter": []byte(`0`),
	}
}

// TestSessionSize keeps the benchmark honest about its "~200-byte session".
func TestSessionSize(t *testing.T) {
	rec := session.Record{ID: session.NewID(), Values: sessionValues(), Idle: time.Now()}
	b, _ := rec.MarshalBinary()
	if n := len(b) - len(rec.ID); n < 180 || n > 230 {
		t.Fatalf("the benchmark session encodes to %d bytes without its ID; want about 200", n)
	}
}

// A subject is one way to do a request's session work: step(i) loads the
// session and saves it with the counter set to i; trips, when set, counts
// the round trips made so far.
type subject struct {
	name  string
	step  func(i int) error
	trips func() int64
}

// sealKeys seal values at rest in the "-sealed" subjects: the Redis and
// Memcache stores with Config.Keys.
var sealKeys = []redis.Key{{ID: "k1", Secret: bytes.Repeat([]byte{1}, 32)}}

// subjects opens the stores and raw clients on the servers; everything is
// closed when b ends.
func subjects(b *testing.B, rs, mc *servertest.Server) []subject {
	mem, err := memory.New(memory.DefaultConfig())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { mem.Close() })
	rd, err := redis.New(redis.Config{Addrs: []string{rs.Addr()}})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { rd.Close() })
	var redisTrips atomic.Int64
	rd.Client().AddHook(tripCounter{&redisTrips})
	mcs, err := memcache.New(memcache.Config{Servers: []string{mc.Addr()}})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { mcs.Close() })
	sealedRd, err := redis.New(redis.Config{Addrs: []string{rs.Addr()}, Keys: sealKeys})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { sealedRd.Close() })
	sealedMc, err := memcache.New(memcache.Config{Servers: []string{mc.Addr()}, Keys: sealKeys})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { sealedMc.Close() })
	return []subject{
		{name: "memory", step: storeStep(b, mem)},
		{name: "redis", step: storeStep(b, rd), trips: redisTrips.Load},
		{name: "redis-sealed", step: storeStep(b, sealedRd)},
		{name: "memcache", step: storeStep(b, mcs), trips: func() int64 { return memcachedCmds(b, mc.Addr()) }},
		{name: "memcache-sealed", step: storeStep(b, sealedMc)},
		{name: "go-redis-GET+SET", step: rawRedisStep(b, rs.Addr())},
		{name: "gomemcache-Get+Set", step: rawMemcacheStep(b, mc.Addr())},
	}
}

// BenchmarkLoadSave: one request's store work, a Load then a Save that
// changes one key, for each store and for the raw clients, one after the
// other.
func BenchmarkLoadSave(b *testing.B) {
	rs, mc := servertest.Redis(b), servertest.Memcached(b)
	for _, s := range subjects(b, rs, mc) {
		b.Run(s.name, func(b *testing.B) {
			var before int64
			if s.trips != nil {
				before = s.trips()
			}
			b.ResetTimer()
			for i := range b.N {
				if err := s.step(i); err != nil {
					b.Fatal(err)
				}
			}
			if s.trips != nil {
				b.ReportMetric(float64(s.trips()-before)/float64(b.N), "round-trips/op")
			}
		})
	}
}

// BenchmarkInterleaved runs every subject once per iteration, in turn, and
// reports each one's mean time: on a machine shared with other work the
// ratios are then measured under the same load. ns/op is the sum.
func BenchmarkInterleaved(b *testing.B) {
	rs, mc := servertest.Redis(b), servertest.Memcached(b)
	subs := subjects(b, rs, mc)
	spent := make([]time.Duration, len(subs))
	b.ResetTimer()
	for i := range b.N {
		for j, s := range subs {
			start := time.Now()
			if err := s.step(i); err != nil {
				b.Fatalf("%s: %v", s.name, err)
			}
			spent[j] += time.Since(start)
		}
	}
	for j, s := range subs {
		b.ReportMetric(float64(spent[j].Nanoseconds())/float64(b.N), s.name+"-ns/op")
	}
}

// storeStep creates a session in st and returns a step that loads it and
// saves it with the counter changed, as one request of its user.
func storeStep(b *testing.B, st session.Store) func(int) error {
	ctx := requestContext(b)
	now := time.Now()
	p := session.Patch{NewID: session.NewID(), Set: sessionValues(), Now: now, Idle: time.Hour}
	token, err := st.Save(ctx, "", p)
	if err != nil {
		b.Fatal(err)
	}
	return func(i int) error {
		if _, found, err := st.Load(ctx, token); err != nil || !found {
			return fmt.Errorf("load: found=%t, %v", found, err)
		}
		p := session.Patch{Set: map[string][]byte{"counter": []byte(strconv.Itoa(i))}, Now: now, Idle: time.Hour}
		token, err = st.Save(ctx, token, p)
		return err
	}
}

// requestContext is a context like an HTTP request's: cancellable, without
// a deadline.
func requestContext(b *testing.B) context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	b.Cleanup(cancel)
	return ctx
}

// rawRedisStep is the floor for a Redis-backed session: GET the serialized
// session and SET it back, two round trips.
func rawRedisStep(b *testing.B, addr string) func(int) error {
	c := goredis.NewClient(&goredis.Options{Addr: addr, DisableIdentity: true})
	b.Cleanup(func() { c.Close() })
	ctx := requestContext(b)
	key, value := rawSession()
	if err := c.Set(ctx, key, value, time.Hour).Err(); err != nil {
		b.Fatal(err)
	}
	return func(int) error {
		v, err := c.Get(ctx, key).Bytes()
		if err != nil {
			return err
		}
		return c.Set(ctx, key, v, time.Hour).Err()
	}
}

// rawMemcacheStep is the same floor on memcached.
func rawMemcacheStep(b *testing.B, addr string) func(int) error {
	c := gomemcache.New(addr)
	b.Cleanup(func() { c.Close() })
	key, value := rawSession()
	if err := c.Set(&gomemcache.Item{Key: key, Value: value, Expiration: 3600}); err != nil {
		b.Fatal(err)
	}
	return func(int) error {
		it, err := c.Get(key)
		if err != nil {
			return err
		}
		return c.Set(&gomemcache.Item{Key: key, Value: it.Value, Expiration: 3600})
	}
}

// rawSession is the benchmark session as one binary value under its key.
func rawSession() (string, []byte) {
	rec := session.Record{ID: session.NewID(), Values: sessionValues(), Idle: time.Now().Add(time.Hour)}
	value, _ := rec.MarshalBinary()
	return "raw:" + rec.ID, value
}

// tripCounter counts the commands and pipelines go-redis sends: each is
// one round trip.
type tripCounter struct{ n *atomic.Int64 }

func (tripCounter) DialHook(next goredis.DialHook) goredis.DialHook { return next }

func (c tripCounter) ProcessHook(next goredis.ProcessHook) goredis.ProcessHook {
	return func(ctx context.Context, cmd goredis.Cmder) error {
		c.n.Add(1)
		return next(ctx, cmd)
	}
}

func (c tripCounter) ProcessPipelineHook(next goredis.ProcessPipelineHook) goredis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []goredis.Cmder) error {
		c.n.Add(1)
		return next(ctx, cmds)
	}
}

// memcachedCmds is the number of get, set (add, cas), touch and delete
// commands memcached has served: gomemcache sends each in its own round
// trip.
func memcachedCmds(b *testing.B, addr string) int64 {
	b.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprintf(conn, "stats\r\n")
	stats := make(map[string]int64)
	r := bufio.NewReader(conn)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			b.Fatalf("memcached stats: %v", err)
		}
		f := strings.Fields(line) // STAT name value
		if len(f) == 1 && f[0] == "END" {
			break
		}
		if len(f) == 3 {
			stats[f[1]], _ = strconv.ParseInt(f[2], 10, 64)
		}
	}
	return stats["cmd_get"] + stats["cmd_set"] + stats["cmd_touch"] + stats["delete_hits"] + stats["delete_misses"]
}
