package storebench

import (
	"bufio"
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

// BenchmarkLoadSave: one request's store work, a Load then a Save that
// changes one key, for each store and for the raw clients.
func BenchmarkLoadSave(b *testing.B) {
	rs, mc := servertest.Redis(b), servertest.Memcached(b)
	b.Run("memory", func(b *testing.B) {
		st, err := memory.New(memory.DefaultConfig())
		if err != nil {
			b.Fatal(err)
		}
		defer st.Close()
		loadSave(b, st)
	})
	b.Run("redis", func(b *testing.B) {
		st, err := redis.New(redis.Config{Addrs: []string{rs.Addr()}})
		if err != nil {
			b.Fatal(err)
		}
		defer st.Close()
		var trips atomic.Int64
		st.Client().AddHook(tripCounter{&trips})
		loadSave(b, st)
		b.ReportMetric(float64(trips.Load())/float64(b.N), "round-trips/op")
	})
	b.Run("memcache", func(b *testing.B) {
		st, err := memcache.New(memcache.Config{Servers: []string{mc.Addr()}})
		if err != nil {
			b.Fatal(err)
		}
		defer st.Close()
		before := memcachedCmds(b, mc.Addr())
		loadSave(b, st)
		b.ReportMetric(float64(memcachedCmds(b, mc.Addr())-before)/float64(b.N), "round-trips/op")
	})
	b.Run("go-redis-GET+SET", func(b *testing.B) { rawRedis(b, rs.Addr()) })
	b.Run("gomemcache-Get+Set", func(b *testing.B) { rawMemcache(b, mc.Addr()) })
}

// loadSave runs b.N load+save pairs on one session, as b.N requests of one
// user that each bump a counter.
func loadSave(b *testing.B, st session.Store) {
	ctx, cancel := requestContext()
	defer cancel()
	now := time.Now()
	p := session.Patch{NewID: session.NewID(), Set: sessionValues(), Now: now, Idle: time.Hour}
	token, err := st.Save(ctx, "", p)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := range b.N {
		rec, found, err := st.Load(ctx, token)
		if err != nil || !found {
			b.Fatalf("Load: %t %v", found, err)
		}
		_ = rec
		p := session.Patch{Set: map[string][]byte{"counter": []byte(strconv.Itoa(i))}, Now: now, Idle: time.Hour}
		if token, err = st.Save(ctx, token, p); err != nil {
			b.Fatal(err)
		}
	}
}

// requestContext is a context like an HTTP request's: cancellable, so a
// store must be ready for it to end (the memcache store then runs each call
// in a goroutine, since gomemcache takes no context).
func requestContext() (context.Context, context.CancelFunc) {
	return context.WithCancel(context.Background())
}

// rawRedis is the floor for a Redis-backed session: GET the serialized
// session and SET it back, two round trips.
func rawRedis(b *testing.B, addr string) {
	c := goredis.NewClient(&goredis.Options{Addr: addr, DisableIdentity: true})
	defer c.Close()
	ctx, cancel := requestContext()
	defer cancel()
	rec := session.Record{ID: session.NewID(), Values: sessionValues(), Idle: time.Now().Add(time.Hour)}
	value, _ := rec.MarshalBinary()
	key := "raw:" + rec.ID
	if err := c.Set(ctx, key, value, time.Hour).Err(); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		v, err := c.Get(ctx, key).Bytes()
		if err != nil {
			b.Fatal(err)
		}
		if err := c.Set(ctx, key, v, time.Hour).Err(); err != nil {
			b.Fatal(err)
		}
	}
}

// rawMemcache is the same floor on memcached.
func rawMemcache(b *testing.B, addr string) {
	c := gomemcache.New(addr)
	defer c.Close()
	rec := session.Record{ID: session.NewID(), Values: sessionValues(), Idle: time.Now().Add(time.Hour)}
	value, _ := rec.MarshalBinary()
	key := "raw:" + rec.ID
	if err := c.Set(&gomemcache.Item{Key: key, Value: value, Expiration: 3600}); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		it, err := c.Get(key)
		if err != nil {
			b.Fatal(err)
		}
		if err := c.Set(&gomemcache.Item{Key: key, Value: it.Value, Expiration: 3600}); err != nil {
			b.Fatal(err)
		}
	}
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

// memcachedCmds is the number of get, set and cas commands memcached has
// served: gomemcache sends each in its own round trip.
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
