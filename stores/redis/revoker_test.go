package redis

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/sessionmesh/sessionmesh/internal/servertest"
	"github.com/sessionmesh/sessionmesh/session"
)

// TestRevoker: generations live in Redis, shared by every worker's
// Revoker, one key per revoked principal under the store's prefix.
func TestRevoker(t *testing.T) {
	ctx := context.Background()
	srv := servertest.Redis(t)
	worker1 := open(t, Config{Addrs: []string{srv.Addr()}}).Revoker()
	worker2, err := NewRevoker(Config{Addrs: []string{srv.Addr()}})
	if err != nil {
		t.Fatal(err)
	}
	defer worker2.Close()

	if g, err := worker1.Generation(ctx, "alice"); g != 0 || err != nil {
		t.Fatalf("Generation of a principal never revoked = %d, %v; want 0", g, err)
	}
	if n, _ := rawClient(t, srv.Addr()).DBSize(ctx).Result(); n != 0 {
		t.Fatalf("%d keys after a Generation; want none: a principal costs nothing until revoked", n)
	}
	for want := uint64(1); want <= 2; want++ {
		if g, err := worker1.Revoke(ctx, "alice"); g != want || err != nil {
			t.Fatalf("Revoke = %d, %v; want %d", g, err, want)
		}
		if g, err := worker2.Generation(ctx, "alice"); g != want || err != nil {
			t.Fatalf("the other worker's Generation = %d, %v; want %d", g, err, want)
		}
	}
	if got, _ := rawClient(t, srv.Addr()).Get(ctx, "sess:gen:alice").Result(); got != "2" {
		t.Fatalf("key sess:gen:alice = %q; want 2", got)
	}
	if g, _ := worker2.Generation(ctx, "bob"); g != 0 {
		t.Fatalf("bob at %d after alice's revokes; want 0", g)
	}
}

func TestRevokerErrors(t *testing.T) {
	ctx := context.Background()
	srv := servertest.Redis(t)
	r, err := NewRevoker(Config{Addrs: []string{srv.Addr()}})
	if err != nil {
		t.Fatal(err)
	}
	r.Close()
	if _, err := r.Generation(ctx, "alice"); !errors.Is(err, session.ErrClosed) {
		t.Fatalf("Generation after Close: %v; want ErrClosed", err)
	}

	r, err = NewRevoker(Config{Addrs: []string{srv.Addr()}})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	srv.Kill()
	_, err = r.Generation(ctx, "alice")
	if err == nil || !strings.Contains(err.Error(), srv.Addr()) || strings.Contains(err.Error(), "alice") {
		t.Fatalf("Generation with the server killed: %v; want an error naming the server, not the principal", err)
	}
	if _, err := r.Revoke(ctx, "alice"); err == nil {
		t.Fatal("Revoke with the server killed succeeded")
	}
	if _, err := NewRevoker(Config{Addrs: []string{srv.Addr()}}); err == nil {
		t.Fatal("NewRevoker with the server down succeeded")
	}
}

// BenchmarkRevokerGeneration is the cost a Revoker adds to each request
// that loads a session with a principal (without RevokerCache): one GET.
func BenchmarkRevokerGeneration(b *testing.B) {
	ctx := context.Background()
	srv := servertest.Redis(b)
	r, err := NewRevoker(Config{Addrs: []string{srv.Addr()}})
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	if _, err := r.Revoke(ctx, "alice"); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := r.Generation(ctx, "alice"); err != nil {
			b.Fatal(err)
		}
	}
}
