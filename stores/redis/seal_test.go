package redis

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/sessionmesh/sessionmesh/internal/servertest"
	"github.com/sessionmesh/sessionmesh/session"
	"github.com/sessionmesh/sessionmesh/stores/internal/storetesting"
	"github.com/sessionmesh/sessionmesh/stores/storetest"
)

var (
	oldKey = storetesting.Key("old", 1)
	newKey = storetesting.Key("new", 2)
)

// The whole conformance suite passes with sealing on, on a single server
// and in Redis Cluster, where a renew opens and re-seals on the client.
func TestConformanceSealed(t *testing.T) {
	srv := servertest.Redis(t)
	storetest.Run(t, func(t *testing.T, now func() time.Time) session.Store {
		return open(t, Config{Addrs: []string{srv.Addr()}, Keys: []Key{newKey, oldKey}, Now: now})
	})
}

func TestConformanceSealedCluster(t *testing.T) {
	nodes := servertest.RedisCluster(t, 2)
	addrs := []string{nodes[0].Addr(), nodes[1].Addr()}
	storetest.Run(t, func(t *testing.T, now func() time.Time) session.Store {
		return open(t, Config{Addrs: addrs, Keys: []Key{newKey}, Now: now})
	})
}

// rawHash is session id's hash as another Redis client reads it.
func rawHash(t *testing.T, addr, id string) map[string]string {
	t.Helper()
	h, err := rawClient(t, addr).HGetAll(context.Background(), "sess:"+id).Result()
	if err != nil || len(h) == 0 {
		t.Fatalf("raw HGETALL of session %s = %v, %v", id, h, err)
	}
	return h
}

// TestSealedAtRest: no value Redis holds is in the clear after a create, a
// patch and a renew, while the metadata the scripts read stays readable.
func TestSealedAtRest(t *testing.T) {
	srv := servertest.Redis(t)
	s := open(t, Config{Addrs: []string{srv.Addr()}, Keys: []Key{newKey}})
	ctx := context.Background()
	id := storetesting.Create(t, s, storetesting.Patch(time.Now(), "user", storetesting.Secret))
	wantSealedHash(t, rawHash(t, srv.Addr(), id), id)
	if _, err := s.Save(ctx, id, storetesting.Patch(time.Now(), "user", storetesting.Secret, "n", "2")); err != nil {
		t.Fatal(err)
	}
	wantSealedHash(t, rawHash(t, srv.Addr(), id), id)
	p := storetesting.Patch(time.Now())
	p.NewID = session.NewID()
	if _, err := s.Save(ctx, id, p); err != nil {
		t.Fatal(err)
	}
	wantSealedHash(t, rawHash(t, srv.Addr(), p.NewID), p.NewID)
	rec := storetesting.Load(t, s, p.NewID)
	if string(rec.Values["user"]) != storetesting.Secret || string(rec.Values["n"]) != "2" {
		t.Fatalf("after renew the session holds %q; want user and n", rec.Values)
	}
}

func wantSealedHash(t *testing.T, h map[string]string, id string) {
	t.Helper()
	if h["id"] != id || h["idle"] == "" || h["version"] == "" {
		t.Fatalf("the metadata is not in the clear: %q", h)
	}
	for f, v := range h {
		if strings.HasPrefix(f, valuePrefix) {
			storetesting.WantNoPlaintext(t, "field "+f, []byte(v))
		}
	}
}

// TestSealRotation: a store with [new, old] reads what [old] wrote and
// writes with new, which [new] alone then reads and [old] does not.
func TestSealRotation(t *testing.T) {
	srv := servertest.Redis(t)
	before := open(t, Config{Addrs: []string{srv.Addr()}, Keys: []Key{oldKey}})
	during := open(t, Config{Addrs: []string{srv.Addr()}, Keys: []Key{newKey, oldKey}})
	after := open(t, Config{Addrs: []string{srv.Addr()}, Keys: []Key{newKey}})
	id := storetesting.Create(t, before, storetesting.Patch(time.Now(), "user", storetesting.Secret))
	storetesting.Load(t, during, id)
	if _, err := during.Save(context.Background(), id, storetesting.Patch(time.Now(), "user", storetesting.Secret)); err != nil {
		t.Fatalf("save during the rotation: %v", err)
	}
	if rec := storetesting.Load(t, after, id); string(rec.Values["user"]) != storetesting.Secret {
		t.Fatalf("after the rotation the session holds %q", rec.Values)
	}
	wantCannotOpen(t, before, id, "user")
}

// wantCannotOpen asserts that Load of session id fails with ErrCannotOpen
// naming the session and the key whose value does not open, not the value.
func wantCannotOpen(t *testing.T, s *Store, id, key string) {
	t.Helper()
	_, found, err := s.Load(context.Background(), id)
	if !errors.Is(err, ErrCannotOpen) || found || !strings.Contains(err.Error(), id[:8]) ||
		!strings.Contains(err.Error(), `key "`+key+`"`) || strings.Contains(err.Error(), "plaintext") {
		t.Fatalf("Load = found %t, %v; want ErrCannotOpen naming session %s and key %q", found, err, id[:8], key)
	}
}

// TestSealWrongKeys: a store whose keys did not seal a value, a value moved
// to another key of its session, and a session stored before sealing was
// turned on all fail with ErrCannotOpen, never a miss that would drop the
// session. A value copied to the same key of another session does open
// there: the package doc says so.
func TestSealWrongKeys(t *testing.T) {
	srv := servertest.Redis(t)
	ctx := context.Background()
	sealed := open(t, Config{Addrs: []string{srv.Addr()}, Keys: []Key{oldKey}})
	id := storetesting.Create(t, sealed, storetesting.Patch(time.Now(), "user", storetesting.Secret))
	wantCannotOpen(t, open(t, Config{Addrs: []string{srv.Addr()}, Keys: []Key{newKey}}), id, "user")

	raw := rawClient(t, srv.Addr())
	value := rawHash(t, srv.Addr(), id)["v:user"]
	other := storetesting.Create(t, sealed, storetesting.Patch(time.Now(), "user", `"mallory"`))
	if err := raw.HSet(ctx, "sess:"+other, "v:user", value).Err(); err != nil {
		t.Fatal(err)
	}
	if rec := storetesting.Load(t, sealed, other); string(rec.Values["user"]) != storetesting.Secret {
		t.Fatalf("a value copied to the same key of another session: %q; the doc says it opens", rec.Values)
	}
	if err := raw.HSet(ctx, "sess:"+id, "v:admin", value).Err(); err != nil {
		t.Fatal(err)
	}
	wantCannotOpen(t, sealed, id, "admin")

	plain := open(t, Config{Addrs: []string{srv.Addr()}})
	wantCannotOpen(t, sealed, storetesting.Create(t, plain, storetesting.Patch(time.Now(), "user", storetesting.Secret)), "user")
}

// TestValidateKeys: every bad key is named by its index, never its secret.
func TestValidateKeys(t *testing.T) {
	err := (&Config{Keys: []Key{{ID: "k0", Secret: []byte("sixteen-byte-sec")}, oldKey, storetesting.Key("old", 3)}}).Validate()
	if !errors.Is(err, session.ErrInvalidConfig) {
		t.Fatalf("Validate = %v; want ErrInvalidConfig", err)
	}
	for _, w := range []string{`Keys[0]: redis: invalid key "k0": the secret is 16 bytes`, `Keys[2] has the ID "old" of Keys[1]`} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("Validate does not say %s:\n%v", w, err)
		}
	}
	if strings.Contains(err.Error(), "sixteen") {
		t.Errorf("Validate shows a secret: %v", err)
	}
}

// TestSealWrongKeyIs503: through the middleware, a session with a value
// that does not open is a 503, not a fresh session that would drop the
// user's data; once the value opens again the user has their session back.
func TestSealWrongKeyIs503(t *testing.T) {
	srv := servertest.Redis(t)
	ctx := context.Background()
	get := storetesting.CounterSite(t, open(t, Config{Addrs: []string{srv.Addr()}, Keys: []Key{oldKey}}))
	for _, want := range []string{"1", "2"} {
		if code, body := get(); code != 200 || body != want {
			t.Fatalf("GET = %d %q; want 200 %q", code, body, want)
		}
	}
	raw := rawClient(t, srv.Addr())
	keys, err := raw.Keys(ctx, "sess:*").Result()
	if err != nil || len(keys) != 1 {
		t.Fatalf("KEYS sess:* = %v, %v; want the one session", keys, err)
	}
	good, err := raw.HGet(ctx, keys[0], "v:n").Result()
	if err != nil {
		t.Fatal(err)
	}
	other := open(t, Config{Addrs: []string{srv.Addr()}, Keys: []Key{newKey}})
	id := storetesting.Create(t, other, storetesting.Patch(time.Now(), "n", "100"))
	foreign := rawHash(t, srv.Addr(), id)["v:n"]
	if err := raw.HSet(ctx, keys[0], "v:n", foreign).Err(); err != nil {
		t.Fatal(err)
	}
	if code, body := get(); code != 503 {
		t.Fatalf("GET with a value sealed by another key = %d %q; want 503", code, body)
	}
	if err := raw.HSet(ctx, keys[0], "v:n", good).Err(); err != nil {
		t.Fatal(err)
	}
	if code, body := get(); code != 200 || body != "3" {
		t.Fatalf("GET after the value was put back = %d %q; want 200 \"3\" (the session kept)", code, body)
	}
}
