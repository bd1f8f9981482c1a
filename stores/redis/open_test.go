package redis_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/sessionmesh/sessionmesh/internal/servertest"
	"github.com/sessionmesh/sessionmesh/session"
	"github.com/sessionmesh/sessionmesh/stores"
)

// TestOpenFromEnv: SESSIONS_STORE=redis plus the server settings switch
// stores.Open to this store, with no code change.
func TestOpenFromEnv(t *testing.T) {
	srv := servertest.Redis(t, servertest.WithPassword("pw"))
	cfg := stores.DefaultConfig()
	vars := map[string]string{
		"SESSIONS_STORE":       "redis",
		"SESSIONS_SERVER_PORT": strconv.Itoa(srv.Port()),
		"SESSIONS_SERVER_AUTH": "pw",
		"SESSIONS_SERVER_NS":   "demo:",
	}
	if err := cfg.ApplyEnv(func(k string) (string, bool) { v, ok := vars[k]; return v, ok }); err != nil {
		t.Fatal(err)
	}
	st, err := stores.Open(cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer stores.Close(st)
	ctx := context.Background()
	id := session.NewID()
	p := session.Patch{NewID: id, Set: map[string][]byte{"n": []byte("1")}, Now: time.Now(), Idle: time.Hour}
	if _, err := st.Save(ctx, "", p); err != nil {
		t.Fatalf("Save: %v", err)
	}
	raw := goredis.NewClient(&goredis.Options{Addr: srv.Addr(), Password: "pw", DisableIdentity: true})
	defer raw.Close()
	if v, err := raw.HGet(ctx, "demo:"+id, "v:n").Result(); err != nil || v != "1" {
		t.Fatalf("HGET demo:<id> v:n = %q, %v; want the session under the configured ns", v, err)
	}
}

// TestOpenServerDown: a server that is down at start makes stores.Open fail
// with an error naming the store and the address.
func TestOpenServerDown(t *testing.T) {
	port := servertest.FreePort(t)
	cfg := stores.DefaultConfig()
	cfg.Store = stores.Redis
	cfg.Server.Port = port
	cfg.Server.Opts.DialTimeout = stores.Duration(time.Second)
	_, err := stores.Open(cfg)
	addr := "127.0.0.1:" + strconv.Itoa(port)
	if err == nil || !strings.Contains(err.Error(), "open redis store") || !strings.Contains(err.Error(), addr) {
		t.Fatalf("Open with the server down: %v; want an error naming the redis store and %s", err, addr)
	}
}
