package stores_test

import (
	"bytes"
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	gomemcache "github.com/bradfitz/gomemcache/memcache"
	goredis "github.com/redis/go-redis/v9"

	"github.com/sessionmesh/sessionmesh/internal/servertest"
	"github.com/sessionmesh/sessionmesh/session"
	"github.com/sessionmesh/sessionmesh/stores"
)

// roundTrip saves a session with one value in st, loads it back and
// returns its token.
func roundTrip(t *testing.T, st session.Store) string {
	t.Helper()
	ctx := context.Background()
	p := session.Patch{NewID: session.NewID(), Set: map[string][]byte{"counter": []byte("1")}, Now: time.Now(), Idle: time.Hour}
	token, err := st.Save(ctx, "", p)
	if err != nil {
		t.Fatalf("Save: %v", err)
	}
	rec, found, err := st.Load(ctx, token)
	if err != nil || !found || string(rec.Values["counter"]) != "1" {
		t.Fatalf("Load after Save = %+v, %v, %v; want counter=1", rec, found, err)
	}
	return token
}

// openFromEnv opens the store that the environment vars name, as the demo
// does at start, and closes it when the test ends.
func openFromEnv(t *testing.T, vars map[string]string) session.Store {
	t.Helper()
	c := stores.DefaultConfig()
	if err := c.ApplyEnv(env(vars)); err != nil {
		t.Fatal(err)
	}
	st, err := stores.Open(c)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { stores.Close(st) })
	return st
}

func TestOpenMemory(t *testing.T) {
	st, err := stores.Open(stores.DefaultConfig())
	if err != nil {
		t.Fatalf("Open(default) = %v", err)
	}
	roundTrip(t, st)
	if err := stores.Close(st); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

func TestOpenCookie(t *testing.T) {
	st := openFromEnv(t, map[string]string{"SESSIONS_STORE": "cookie", "SESSIONS_KEYS": testKey("k2", 32) + "," + testKey("k1", 32)})
	roundTrip(t, st)
}

// TestOpenRedisFromEnv: SESSIONS_STORE=redis plus the server settings
// switch stores.Open to the Redis store, with no code change; the sessions
// live on that server under the configured namespace.
func TestOpenRedisFromEnv(t *testing.T) {
	srv := servertest.Redis(t, servertest.WithPassword("pw"))
	st := openFromEnv(t, map[string]string{
		"SESSIONS_STORE":       "redis",
		"SESSIONS_SERVER_PORT": strconv.Itoa(srv.Port()),
		"SESSIONS_SERVER_AUTH": "pw",
		"SESSIONS_SERVER_NS":   "demo:",
	})
	id := roundTrip(t, st)
	raw := goredis.NewClient(&goredis.Options{Addr: srv.Addr(), Password: "pw", DisableIdentity: true})
	defer raw.Close()
	if v, err := raw.HGet(context.Background(), "demo:"+id, "v:counter").Result(); err != nil || v != "1" {
		t.Fatalf("HGET demo:<id> v:counter = %q, %v; want the session under the configured ns", v, err)
	}
}

// TestOpenRedisSealedFromEnv: SESSIONS_SEAL_KEYS seals what the Redis
// store writes; the session still round-trips.
func TestOpenRedisSealedFromEnv(t *testing.T) {
	srv := servertest.Redis(t)
	st := openFromEnv(t, map[string]string{
		"SESSIONS_STORE":       "redis",
		"SESSIONS_SERVER_PORT": strconv.Itoa(srv.Port()),
		"SESSIONS_SEAL_KEYS":   testKey("s2", 32) + "," + testKey("s1", 32),
	})
	id := roundTrip(t, st)
	raw := goredis.NewClient(&goredis.Options{Addr: srv.Addr(), DisableIdentity: true})
	defer raw.Close()
	if v, err := raw.HGet(context.Background(), "sess:"+id, "v:counter").Result(); err != nil || !strings.HasPrefix(v, "\x01\x02s2") {
		t.Fatalf("HGET sess:<id> v:counter = %q, %v; want it sealed with key s2", v, err)
	}
}

// TestOpenMemcacheSealedFromEnv: SESSIONS_SEAL_KEYS seals what the
// Memcache store writes; the session still round-trips.
func TestOpenMemcacheSealedFromEnv(t *testing.T) {
	srv := servertest.Memcached(t)
	st := openFromEnv(t, map[string]string{"SESSIONS_STORE": "memcache", "SESSIONS_SERVERS": srv.Addr(), "SESSIONS_SEAL_KEYS": testKey("s1", 32)})
	id := roundTrip(t, st)
	raw := gomemcache.New(srv.Addr())
	defer raw.Close()
	if it, err := raw.Get("sess:" + id); err != nil || !bytes.HasPrefix(it.Value, []byte("\x01\x02s1")) {
		t.Fatalf("get sess:<id> = %v, %v; want it sealed with key s1", it, err)
	}
}

// TestOpenMemcacheFromEnv: SESSIONS_STORE=memcache plus SESSIONS_SERVERS
// switch stores.Open to the Memcache store, with no code change.
func TestOpenMemcacheFromEnv(t *testing.T) {
	a, b := servertest.Memcached(t), servertest.Memcached(t)
	st := openFromEnv(t, map[string]string{"SESSIONS_STORE": "memcache", "SESSIONS_SERVERS": a.Addr() + "," + b.Addr()})
	roundTrip(t, st)
}

// TestOpenMemcacheUnixSocket: a memcached on a Unix socket is named by
// its absolute path in sessions.servers, as memcache.Config.Servers takes it.
func TestOpenMemcacheUnixSocket(t *testing.T) {
	path := servertest.MemcachedUnix(t)
	st := openFromEnv(t, map[string]string{"SESSIONS_STORE": "memcache", "SESSIONS_SERVERS": path})
	roundTrip(t, st)
}

// TestOpenServerDown: a server that is down at start makes stores.Open fail
// with an error naming the store and the address.
func TestOpenServerDown(t *testing.T) {
	port := servertest.FreePort(t)
	addr := "127.0.0.1:" + strconv.Itoa(port)
	tests := []struct {
		store string
		set   func(c *stores.Config)
	}{
		{stores.Redis, func(c *stores.Config) {
			c.Server.Port = port
			c.Server.Opts.DialTimeout = stores.Duration(time.Second)
		}},
		{stores.Memcache, func(c *stores.Config) { c.Servers = []string{addr} }},
	}
	for _, tt := range tests {
		t.Run(tt.store, func(t *testing.T) {
			c := stores.DefaultConfig()
			c.Store = tt.store
			tt.set(&c)
			_, err := stores.Open(c)
			if err == nil || !strings.Contains(err.Error(), "open "+tt.store+" store") || !strings.Contains(err.Error(), addr) {
				t.Fatalf("Open with the server down: %v; want an error naming the %s store and %s", err, tt.store, addr)
			}
		})
	}
}

func TestOpenRefusesInvalidConfig(t *testing.T) {
	c := stores.DefaultConfig()
	c.Store = "cookie"
	st, err := stores.Open(c)
	if st != nil || !errors.Is(err, session.ErrInvalidConfig) || !strings.Contains(err.Error(), "sessions.keys") {
		t.Fatalf("Open(cookie without keys) = %v, %v; want nil and an error naming sessions.keys", st, err)
	}
}

func TestCloseWithoutResources(t *testing.T) {
	if err := stores.Close(nil); err != nil {
		t.Fatalf("Close(nil) = %v", err)
	}
}
