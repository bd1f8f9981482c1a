package cluster_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/sessionmesh/sessionmesh/cluster"
	"github.com/sessionmesh/sessionmesh/cluster/clustertest"
	"github.com/sessionmesh/sessionmesh/cluster/peer"
	"github.com/sessionmesh/sessionmesh/internal/testutil"
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
// It is not ready either, though it runs alone: its seeds answer, so it
// is no first worker starting a cluster, and its log says what is wrong.
func TestNodeWithWrongKeyNeverJoins(t *testing.T) {
	scenario(t)
	c := clustertest.New(t, 2)
	c.WaitConverged(converge)
	id := create(t, c.Store(0), map[string]any{"n": 1})

	cfg := cluster.DefaultLocalConfig()
	cfg.Name = "intruder"
	cfg.Secret = []byte("not-the-cluster-secret-at-all!!!")
	cfg.Join = []string{c.Seed()}
	var logs testutil.Buffer
	cfg.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	in, err := cluster.New(cfg)
	if err != nil {
		t.Fatalf("start intruder: %v", err)
	}
	defer in.Close()

	// Past BootstrapTimeout (3s locally), over several rejoin rounds.
	testutil.Eventually(t, converge, "the intruder says why it cannot join", func() bool {
		return strings.Contains(logs.String(), "cluster's secret")
	})
	for i := 0; i < 2; i++ {
		if _, ok := c.Store(i).Table().Member(in.Name()); ok {
			t.Fatalf("node %d accepted the intruder as a member", i)
		}
	}
	if n := len(in.Table().Members()); n != 1 {
		t.Fatalf("intruder sees %d members; want only itself", n)
	}
	if in.Ready() || in.Quorate() {
		t.Fatalf("the intruder is ready (%t) or quorate (%t) on its own", in.Ready(), in.Quorate())
	}
	rec, found, err := in.Load(context.Background(), id)
	if found || len(rec.Values) > 0 || !errors.Is(err, cluster.ErrNoQuorum) {
		t.Fatalf("intruder read the session: %v %v %v; want ErrNoQuorum", rec, found, err)
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

// A node whose seeds do not answer at all is the first worker of a new
// cluster: after BootstrapTimeout it starts one and becomes ready.
func TestNodeWhoseSeedsNeverAnswerStartsAlone(t *testing.T) {
	scenario(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close() // nobody listens there any more
	cfg := cluster.DefaultLocalConfig()
	cfg.Secret = []byte("0123456789abcdef0123456789abcdef")
	cfg.Join = []string{dead}
	var logs testutil.Buffer
	cfg.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	n, err := cluster.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	if n.Ready() {
		t.Fatal("ready at once although it has seeds it has not joined")
	}
	testutil.Eventually(t, converge, "the lone node becomes ready", n.Ready)
	if !strings.Contains(logs.String(), "starts a new cluster") {
		t.Fatalf("the node did not say it started a cluster alone:\n%s", logs.String())
	}
}
