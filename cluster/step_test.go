package cluster

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"github.com/sessionmesh/sessionmesh/cluster/peer"
)

// stepNode builds a node with newStore (no sockets, no loops) whose table
// holds members, self among them, and whose peer calls go to caller: a
// test drives it one step at a time.
func stepNode(t *testing.T, cfg Config, self string, caller Caller, members ...Member) *Store {
	t.Helper()
	s, err := newStore(cfg, self)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.cancelBg()
		s.engine.Close()
	})
	s.caller = caller
	s.members.mu.Lock()
	for _, m := range members {
		s.members.applyLocked(m.Name, nodeMeta{Version: metaVersion, Peer: m.Addr, Draining: m.Draining, Joining: m.Joining})
		if m.Name == self {
			s.peerAddr = m.Addr
		}
	}
	s.members.mu.Unlock()
	return s
}

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// A member that drained and handed everything off says it left: it is
// dropped from the table at once (not asked for copies any more), and
// gossip about it that arrives later does not bring it back.
func TestLeftMemberIsDroppedAtOnce(t *testing.T) {
	cfg := DefaultLocalConfig().withDefaults()
	cfg.Logger = discardLogger()
	s := stepNode(t, cfg, "b", nil, Member{Name: "a", Addr: "a:1"}, Member{Name: "b", Addr: "b:1"}, Member{Name: "c", Addr: "c:1", Draining: true})
	left := memberReq{name: "c", meta: nodeMeta{Version: metaVersion, Peer: "c:1", Draining: true, Left: true, Seq: 7}}
	from := peer.NewContext(context.Background(), peer.Remote{Name: "c"}) // c's own connection
	if _, err := s.handle(from, opMember, left.marshal()); err != nil {
		t.Fatal(err)
	}
	if _, ok := s.Table().Member("c"); ok {
		t.Fatal("a member that said it left is still in the table")
	}
	for _, src := range sources(s.Table(), 0, "b") {
		if src.Name == "c" {
			t.Fatal("a member that left is still a source of copies")
		}
	}
	s.members.mu.Lock()
	s.members.applyLocked("c", nodeMeta{Version: metaVersion, Peer: "c:1", Seq: 9})
	s.members.mu.Unlock()
	if _, ok := s.Table().Member("c"); ok {
		t.Fatal("later gossip brought back a member that left")
	}
}

// The quorum answer read without the lock (membership.whole) follows the
// member set: a crash of one of three keeps the majority, a second one
// loses it at once, and neither waits for the lock-free answer to expire.
func TestQuorateFollowsEveryMemberChange(t *testing.T) {
	cfg := DefaultLocalConfig().withDefaults()
	cfg.Logger = discardLogger()
	// Self is "b": whether or not the pair {a, b} becomes the stable set
	// meanwhile, b alone is no quorum (the tie goes to a, first by name).
	s := stepNode(t, cfg, "b", nil, Member{Name: "a", Addr: "a:1"}, Member{Name: "b", Addr: "b:1"}, Member{Name: "c", Addr: "c:1"})
	m := s.members
	for i := range 2 { // the second answer comes without the lock
		if !m.quorate() {
			t.Fatalf("call %d: not quorate with every member of the stable set", i)
		}
	}
	if !m.whole.Load() {
		t.Fatal("members equal to the stable set are not read without the lock")
	}
	m.mu.Lock()
	m.removeLocked("c", false) // a crash: c stays in the stable set
	m.mu.Unlock()
	if m.whole.Load() {
		t.Fatal("a member change left the lock-free answer in place")
	}
	if !m.quorate() {
		t.Fatal("two of three lost the quorum")
	}
	m.mu.Lock()
	m.removeLocked("a", false)
	m.mu.Unlock()
	if m.quorate() {
		t.Fatal("one of three kept the quorum")
	}
}
