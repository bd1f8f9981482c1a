package stores_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/sessionmesh/sessionmesh/session"
	"github.com/sessionmesh/sessionmesh/stores"
)

// roundTrip saves a session with one value in st and loads it back.
func roundTrip(t *testing.T, st session.Store) {
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
	c := stores.DefaultConfig()
	if err := c.ApplyEnv(env(map[string]string{"SESSIONS_STORE": "cookie", "SESSIONS_KEYS": testKey("k2", 32) + "," + testKey("k1", 32)})); err != nil {
		t.Fatal(err)
	}
	st, err := stores.Open(c)
	if err != nil {
		t.Fatalf("Open(cookie) = %v", err)
	}
	defer stores.Close(st)
	roundTrip(t, st)
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
