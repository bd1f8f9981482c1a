package cluster

import (
	"bytes"
	"context"
	"sync/atomic"
	"testing"

	"github.com/sessionmesh/sessionmesh/cluster/peer"
	"github.com/sessionmesh/sessionmesh/session"
)

// A newer hinted copy that reaches a stand-in while an older copy of the
// same session is on its way to the owner keeps its copy and its hint:
// its write was acknowledged counting that copy, and the owner has not
// got it. Only the copy that was given back may be dropped.
func TestHandBackKeepsANewerCopyThatCameMeanwhile(t *testing.T) {
	sent, release := make(chan struct{}), make(chan struct{})
	var blocking atomic.Bool // the next put is the hand-back under test
	s := routeStore(t, CallerFunc(func(_ context.Context, _ string, op uint8, _ []byte) ([]byte, error) {
		if op != opPut || !blocking.CompareAndSwap(true, false) {
			return nil, peer.ErrUnavailable // the owner is out of reach
		}
		close(sent)
		<-release
		return marshalFlag(true), nil
	}))
	ctx := context.Background()
	id := backupID(s, false) // s owns no copy of it: it stands in
	owner, _ := s.Table().Member(s.Owner(id))
	older, newer := record(s, id, 1, "1"), record(s, id, 2, "2")
	put := func(rec *session.Record) {
		t.Helper()
		if _, err := s.handle(ctx, opPut, (&putReq{hint: owner.Name, id: id, data: anonymous(rec)}).marshal()); err != nil {
			t.Fatalf("hinted put of v%d: %v", rec.Version, err)
		}
	}
	put(&older)

	blocking.Store(true)
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.handBack(ctx, owner, []string{id})
	}()
	<-sent // v1 is on its way to the owner
	put(&newer)
	close(release)
	<-done

	if data, ok := s.engine.Peek(id); !ok || !bytes.Equal(data, anonymous(&newer)) {
		t.Fatalf("the stand-in's copy after handing v1 back: found %v, v2 %v; want v2 kept", ok, ok && bytes.Equal(data, anonymous(&newer)))
	}
	if ids := s.hints.snapshot()[owner.Name]; len(ids) != 1 || ids[0] != id {
		t.Fatalf("hints for %s after handing v1 back: %q; want v2's", owner.Name, ids)
	}
}
