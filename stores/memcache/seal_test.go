package memcache

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/bradfitz/gomemcache/memcache"

	"github.com/sessionmesh/sessionmesh/internal/servertest"
	"github.com/sessionmesh/sessionmesh/session"
	"github.com/sessionmesh/sessionmesh/stores/internal/storetesting"
	"github.com/sessionmesh/sessionmesh/stores/storetest"
)

var (
	oldKey = storetesting.Key("old", 1)
	newKey = storetesting.Key("new", 2)
)

// The whole conformance suite passes with sealing on.
func TestConformanceSealed(t *testing.T) {
	srv := servertest.Memcached(t)
	storetest.Run(t, func(t *testing.T, now func() time.Time) session.Store {
		return open(t, Config{Servers: []string{srv.Addr()}, Keys: []Key{newKey, oldKey}, Now: now})
	})
}

// rawItem is the item of session id as another memcached client reads it.
func rawItem(t *testing.T, addr, id string) *memcache.Item {
	t.Helper()
	raw := memcache.New(addr)
	defer raw.Close()
	it, err := raw.Get("sess:" + id)
	if err != nil {
		t.Fatalf("raw get of session %s: %v", id, err)
	}
	return it
}

// TestSealedAtRest: what memcached holds has neither the values nor the
// keys in it, after a create, a patch and a renew.
func TestSealedAtRest(t *testing.T) {
	srv := servertest.Memcached(t)
	s := open(t, Config{Servers: []string{srv.Addr()}, Keys: []Key{newKey}})
	id := storetesting.Create(t, s, storetesting.Patch(time.Now(), "user", storetesting.Secret))
	storetesting.WantNoPlaintext(t, "the created item", rawItem(t, srv.Addr(), id).Value)
	if _, err := s.Save(context.Background(), id, storetesting.Patch(time.Now(), "user", storetesting.Secret, "n", "2")); err != nil {
		t.Fatal(err)
	}
	storetesting.WantNoPlaintext(t, "the patched item", rawItem(t, srv.Addr(), id).Value)
	p := storetesting.Patch(time.Now())
	p.NewID = session.NewID()
	if _, err := s.Save(context.Background(), id, p); err != nil {
		t.Fatal(err)
	}
	storetesting.WantNoPlaintext(t, "the renewed item", rawItem(t, srv.Addr(), p.NewID).Value)
	rec := storetesting.Load(t, s, p.NewID)
	if string(rec.Values["user"]) != storetesting.Secret || string(rec.Values["n"]) != "2" {
		t.Fatalf("after renew the session holds %q; want user and n", rec.Values)
	}
}

// TestSealRotation: a store with [new, old] reads what [old] wrote and
// writes with new, which [new] alone then reads and [old] does not.
func TestSealRotation(t *testing.T) {
	srv := servertest.Memcached(t)
	before := open(t, Config{Servers: []string{srv.Addr()}, Keys: []Key{oldKey}})
	during := open(t, Config{Servers: []string{srv.Addr()}, Keys: []Key{newKey, oldKey}})
	after := open(t, Config{Servers: []string{srv.Addr()}, Keys: []Key{newKey}})
	id := storetesting.Create(t, before, storetesting.Patch(time.Now(), "user", storetesting.Secret))
	storetesting.Load(t, during, id)
	if _, err := during.Save(context.Background(), id, storetesting.Patch(time.Now(), "n", "1")); err != nil {
		t.Fatalf("save during the rotation: %v", err)
	}
	if rec := storetesting.Load(t, after, id); string(rec.Values["user"]) != storetesting.Secret {
		t.Fatalf("after the rotation the session holds %q", rec.Values)
	}
	wantCannotOpen(t, before, id)
}

// wantCannotOpen asserts that Load and Save of session id fail with
// ErrCannotOpen, naming the session but not its value, instead of a miss.
func wantCannotOpen(t *testing.T, s *Store, id string) {
	t.Helper()
	_, found, err := s.Load(context.Background(), id)
	if !errors.Is(err, ErrCannotOpen) || found || !strings.Contains(err.Error(), id[:8]) || strings.Contains(err.Error(), "plaintext") {
		t.Fatalf("Load = found %t, %v; want ErrCannotOpen naming session %s", found, err, id[:8])
	}
	if _, err := s.Save(context.Background(), id, storetesting.Patch(time.Now(), "n", "1")); !errors.Is(err, ErrCannotOpen) {
		t.Fatalf("Save = %v; want ErrCannotOpen", err)
	}
}

// TestSealWrongKeys: a store whose keys did not seal a record, a record
// moved to another session's item, and a record stored before sealing was
// turned on all fail with ErrCannotOpen, never a miss that would drop the
// session.
func TestSealWrongKeys(t *testing.T) {
	srv := servertest.Memcached(t)
	sealed := open(t, Config{Servers: []string{srv.Addr()}, Keys: []Key{oldKey}})
	id := storetesting.Create(t, sealed, storetesting.Patch(time.Now(), "user", storetesting.Secret))
	wantCannotOpen(t, open(t, Config{Servers: []string{srv.Addr()}, Keys: []Key{newKey}}), id)

	raw := memcache.New(srv.Addr())
	defer raw.Close()
	moved := session.NewID()
	if err := raw.Set(&memcache.Item{Key: "sess:" + moved, Value: rawItem(t, srv.Addr(), id).Value, Expiration: 60}); err != nil {
		t.Fatal(err)
	}
	wantCannotOpen(t, sealed, moved)

	plain := open(t, Config{Servers: []string{srv.Addr()}})
	wantCannotOpen(t, sealed, storetesting.Create(t, plain, storetesting.Patch(time.Now(), "user", storetesting.Secret)))
	storetesting.Load(t, sealed, id)
}

// TestValidateKeys: every bad key is named by its index, never its secret.
func TestValidateKeys(t *testing.T) {
	err := (&Config{Keys: []Key{{ID: "k0", Secret: []byte("sixteen-byte-sec")}, oldKey, storetesting.Key("old", 3)}}).Validate()
	if !errors.Is(err, session.ErrInvalidConfig) {
		t.Fatalf("Validate = %v; want ErrInvalidConfig", err)
	}
	for _, w := range []string{`Keys[0]: memcache: invalid key "k0": the secret is 16 bytes`, `Keys[2] has the ID "old" of Keys[1]`} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("Validate does not say %s:\n%v", w, err)
		}
	}
	if strings.Contains(err.Error(), "sixteen") {
		t.Errorf("Validate shows a secret: %v", err)
	}
}
