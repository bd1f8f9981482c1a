package memcache_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sessionmesh/sessionmesh/internal/servertest"
	"github.com/sessionmesh/sessionmesh/session"
	"github.com/sessionmesh/sessionmesh/stores"
)

// TestOpenFromEnv: SESSIONS_STORE=memcache plus SESSIONS_SERVERS switch
// stores.Open to this store, with no code change.
func TestOpenFromEnv(t *testing.T) {
	a, b := servertest.Memcached(t), servertest.Memcached(t)
	cfg := stores.DefaultConfig()
	vars := map[string]string{"SESSIONS_STORE": "memcache", "SESSIONS_SERVERS": a.Addr() + "," + b.Addr()}
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
	if rec, found, err := st.Load(ctx, id); err != nil || !found || string(rec.Values["n"]) != "1" {
		t.Fatalf("Load = %v, %t, %v", rec.Values, found, err)
	}
}

// TestOpenServerDown: a server that is down at start makes stores.Open fail
// with an error naming the store and the address.
func TestOpenServerDown(t *testing.T) {
	addr := "127.0.0.1:" + strconv.Itoa(servertest.FreePort(t))
	cfg := stores.DefaultConfig()
	cfg.Store, cfg.Servers = stores.Memcache, []string{addr}
	_, err := stores.Open(cfg)
	if err == nil || !strings.Contains(err.Error(), "open memcache store") || !strings.Contains(err.Error(), addr) {
		t.Fatalf("Open with the server down: %v; want an error naming the memcache store and %s", err, addr)
	}
}
