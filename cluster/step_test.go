package cluster

import (
	"io"
	"log/slog"
	"testing"
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
