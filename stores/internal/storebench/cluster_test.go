package storebench

import (
	"context"
	"io"
	"log/slog"
	"strconv"
	"testing"
	"time"

	gomemcache "github.com/bradfitz/gomemcache/memcache"
	goredis "github.com/redis/go-redis/v9"

	"github.com/sessionmesh/sessionmesh/cluster/clustertest"
	"github.com/sessionmesh/sessionmesh/internal/servertest"
	"github.com/sessionmesh/sessionmesh/internal/testutil"
	"github.com/sessionmesh/sessionmesh/session"
)

// op is one timed operation of BenchmarkGetPut.
type op struct {
	name string
	do   func(i int) error
}

// BenchmarkGetPut times single reads and writes of a ~200-byte session, one
// at a time, and reports their median (p50-us) next to go-redis GET and SET
// on a real redis-server and gomemcache Get and Set on a real memcached
// in the same run: the shared memory store's reads
// and writes from node 0 of three: for a session it does not own
// ("remote": one peer round trip for a read; for a write, one to the
// primary plus the primary's copy to its backup), one it is the backup of
// ("backup": a read from its own copy under the primary's read lease; a
// write is one round trip, the primary answering with the copy to keep)
// and one it is the primary of ("local": a write still waits for the
// backup's copy). The raw TCP floor is BenchmarkRoundTrip in cluster/peer.
func BenchmarkGetPut(b *testing.B) {
	rs, mc := servertest.Redis(b), servertest.Memcached(b)
	c := clustertest.New(b, 3, clustertest.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	c.WaitReplicated(10 * time.Second)
	ops := clusterOps(b, c, "remote", 1, 2)
	ops = append(ops, clusterOps(b, c, "backup", 1, 0)...)
	ops = append(ops, clusterOps(b, c, "local", 0, 1)...)
	ops = append(ops, redisOps(b, rs.Addr())...)
	ops = append(ops, memcacheOps(b, mc.Addr())...)
	for _, o := range ops {
		b.Run(o.name, func(b *testing.B) { testutil.TimeCalls(b, o.do) })
	}
}

// clusterOps returns a Get (Load) and a Put (Save of one key) through node 0
// of a session whose primary is node primary and backup node backup. When
// node 0 is the backup, the Get waits for its read lease first.
func clusterOps(b *testing.B, c *clustertest.Cluster, name string, primary, backup int) []op {
	st, ctx := c.Store(0), requestContext(b)
	id := session.NewID()
	for own := c.Owners(0, id); own[0] != primary || own[1] != backup; own = c.Owners(0, id) {
		id = session.NewID()
	}
	now := time.Now()
	token, err := st.Save(ctx, "", session.Patch{NewID: id, Set: sessionValues(), Now: now, Idle: time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	get := func(int) error {
		_, found, err := st.Load(ctx, token)
		if err == nil && !found {
			b.Fatal("cluster lost the benchmark session")
		}
		return err
	}
	leased := func() bool {
		before := st.Stats().LeaseReads
		if err := get(0); err != nil {
			b.Fatal(err)
		}
		return st.Stats().LeaseReads > before
	}
	if backup == 0 && !testutil.Poll(10*time.Second, leased) {
		b.Fatal("node 0 got no read lease for the session it backs up")
	}
	put := func(i int) error {
		p := session.Patch{Set: map[string][]byte{"counter": []byte(strconv.Itoa(i))}, Now: now, Idle: time.Hour}
		_, err := st.Save(ctx, token, p)
		return err
	}
	return []op{{"cluster-" + name + "-Get", get}, {"cluster-" + name + "-Put", put}}
}

// redisOps are go-redis GET and SET of the same session bytes.
func redisOps(b *testing.B, addr string) []op {
	cl := goredis.NewClient(&goredis.Options{Addr: addr, DisableIdentity: true})
	b.Cleanup(func() { cl.Close() })
	ctx := context.Background()
	key, value := rawSession()
	if err := cl.Set(ctx, key, value, time.Hour).Err(); err != nil {
		b.Fatal(err)
	}
	return []op{
		{"go-redis-GET", func(int) error { return cl.Get(ctx, key).Err() }},
		{"go-redis-SET", func(int) error { return cl.Set(ctx, key, value, time.Hour).Err() }},
	}
}

// memcacheOps are gomemcache Get and Set of the same session bytes.
func memcacheOps(b *testing.B, addr string) []op {
	c := gomemcache.New(addr)
	b.Cleanup(func() { c.Close() })
	key, value := rawSession()
	item := &gomemcache.Item{Key: key, Value: value, Expiration: 3600}
	if err := c.Set(item); err != nil {
		b.Fatal(err)
	}
	return []op{
		{"gomemcache-Get", func(int) error { _, err := c.Get(key); return err }},
		{"gomemcache-Set", func(int) error { return c.Set(item) }},
	}
}
