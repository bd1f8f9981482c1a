package cluster_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/sessionmesh/sessionmesh/cluster"
	"github.com/sessionmesh/sessionmesh/cluster/clustertest"
	"github.com/sessionmesh/sessionmesh/cluster/peer"
)

// opLoad is the cluster's peer operation that reads a session (messages.go);
// an intruder would try it first.
const opLoad = 1

// A peer connection without the cluster secret, or with another one, is
// refused before any request is served.
func TestPeerWithoutSecretIsRejected(t *testing.T) {
	c := clustertest.New(t, 1)
	c.WaitConverged(converge)
	id := create(t, c.Store(0), map[string]any{"n": 1})
	for name, secret := range map[string][]byte{"none": nil, "wrong": []byte("0123456789abcdef0123456789abcdef")} {
		cl, err := peer.NewClient(peer.Config{Secret: secret, Logger: discard()})
		if err != nil {
			t.Fatal(err)
		}
		body := append([]byte{0, 0, byte(len(id))}, id...) // flags, fingerprint, id
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		resp, err := cl.Call(ctx, c.Store(0).Addr(), opLoad, body)
		cancel()
		cl.Close()
		if err == nil || !errors.Is(err, peer.ErrUnavailable) {
			t.Errorf("%s secret: call answered %q, %v; want a refused connection", name, resp, err)
		}
	}
	if n, ok := value(t, c.Store(0), id, "n"); !ok || n != 1 {
		t.Fatalf("node stopped serving its own session after the intrusions: %d %v", n, ok)
	}
}

// A node gossiping with another key never becomes a member (its packets
// do not decrypt), and so is never routed a session nor can it read one.
func TestNodeWithWrongKeyNeverJoins(t *testing.T) {
	scenario(t)
	c := clustertest.New(t, 2)
	c.WaitConverged(converge)
	id := create(t, c.Store(0), map[string]any{"n": 1})

	cfg := cluster.DefaultLocalConfig()
	cfg.Name = "intruder"
	cfg.Secret = []byte("not-the-cluster-secret-at-all!!!")
	cfg.Join = []string{c.Seed()}
	cfg.Logger = discard()
	in, err := cluster.New(cfg)
	if err != nil {
		t.Fatalf("start intruder: %v", err)
	}
	defer in.Close()

	// Give gossip several rejoin rounds (RejoinInterval is 1s locally).
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		for i := 0; i < 2; i++ {
			if _, ok := c.Store(i).Table().Member(in.Name()); ok {
				t.Fatalf("node %d accepted the intruder as a member", i)
			}
		}
		if n := len(in.Table().Members()); n != 1 {
			t.Fatalf("intruder sees %d members; want only itself", n)
		}
		time.Sleep(50 * time.Millisecond)
	}
	rec, found, err := in.Load(context.Background(), id)
	if found || len(rec.Values) > 0 {
		t.Fatalf("intruder read the session: %v %v", rec, err)
	}
}

func TestNonLoopbackWithoutSecretIsRefused(t *testing.T) {
	for _, cfg := range []cluster.Config{
		{Bind: "0.0.0.0:0"},
		{Bind: "127.0.0.1:0", PeerBind: "0.0.0.0:0"},
		{Bind: "127.0.0.1:0", Advertise: "10.1.2.3"},
		{}, // the default Bind is 0.0.0.0:7946
	} {
		cfg.Logger = discard()
		s, err := cluster.New(cfg)
		if err == nil {
			s.Close()
		}
		if !errors.Is(err, cluster.ErrNoSecret) {
			t.Errorf("New(%+v) = %v; want ErrNoSecret", cfg, err)
		}
	}
}

func discard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
