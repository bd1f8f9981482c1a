package cluster

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/sessionmesh/sessionmesh/cluster/peer"
)

// senderNode is node "c" of a table {a, b, c}, serving its handlers on a
// real peer server with the cluster's peer secret; its calls go nowhere.
func senderNode(t *testing.T) (*Store, string, []byte) {
	t.Helper()
	cfg := DefaultLocalConfig()
	cfg.Secret = []byte("0123456789abcdef0123456789abcdef")
	cfg.Logger = discardLogger()
	cfg = cfg.withDefaults()
	s := stepNode(t, cfg, "c", CallerFunc(func(context.Context, string, uint8, []byte) ([]byte, error) {
		return nil, peer.ErrUnavailable
	}), Member{Name: "a", Addr: "a:1"}, Member{Name: "b", Addr: "b:1"}, Member{Name: "c", Addr: "c:1"})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	key := deriveKey(cfg.Secret, "peer")
	srv, err := peer.NewServer(ln, peer.Config{Secret: key, Name: "c", Logger: cfg.Logger}, s.handle)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return s, srv.Addr().String(), key
}

// callAs calls addr with the cluster's peer secret as the node name.
func callAs(t *testing.T, name, addr string, key []byte, op uint8, body []byte) ([]byte, error) {
	t.Helper()
	c, err := peer.NewClient(peer.Config{Secret: key, Name: name, Logger: discardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := c.Call(ctx, addr, op, body)
	return resp, fromRemote(err)
}

// TestMemberNoticeOnlyFromTheMember is the audit's L3: a holder of the
// secret that connects as node a cannot rewrite node b's peer address
// with opMember (nor pull b's partitions, nor ask how long b has been a
// member, as b); a may still announce its own metadata, but not jump its
// change count out of gossip's reach.
func TestMemberNoticeOnlyFromTheMember(t *testing.T) {
	s, addr, key := senderNode(t)
	forged := memberReq{name: "b", meta: nodeMeta{Version: metaVersion, Peer: "127.0.0.1:17990", Seq: 1 << 62}}
	if _, err := callAs(t, "a", addr, key, opMember, forged.marshal()); !errors.Is(err, ErrBadMessage) {
		t.Fatalf("a's notice for b: %v; want ErrBadMessage", err)
	}
	if m, _ := s.Table().Member("b"); m.Addr != "b:1" {
		t.Fatalf("b's address is %q after a's forged notice; want b:1", m.Addr)
	}
	for op, body := range map[uint8][]byte{
		opPull: (&pullReq{name: "b", addr: "127.0.0.1:17990", parts: []int{0}}).marshal(),
		opSeen: (&seenReq{name: "b"}).marshal(),
	} {
		if _, err := callAs(t, "a", addr, key, op, body); !errors.Is(err, ErrBadMessage) {
			t.Errorf("op %d naming b, sent by a: %v; want ErrBadMessage", op, err)
		}
	}

	jump := memberReq{name: "a", meta: nodeMeta{Version: metaVersion, Peer: "127.0.0.1:17990", Seq: 1 << 62}}
	if _, err := callAs(t, "a", addr, key, opMember, jump.marshal()); !errors.Is(err, ErrBadMessage) {
		t.Fatalf("a's notice jumping to change 2^62: %v; want ErrBadMessage", err)
	}
	own := memberReq{name: "a", meta: nodeMeta{Version: metaVersion, Peer: "a:2", Seq: 1}}
	if resp, err := callAs(t, "a", addr, key, opMember, own.marshal()); err != nil || string(resp) != "\x01" {
		t.Fatalf("a's notice for itself: %q, %v; want it applied", resp, err)
	}
	if m, _ := s.Table().Member("a"); m.Addr != "a:2" {
		t.Fatalf("a's address is %q after its own notice; want a:2", m.Addr)
	}
}
