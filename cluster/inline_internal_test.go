package cluster

import (
	"testing"
	"time"

	"github.com/sessionmesh/sessionmesh/session"
)

// The node's server serves on the reading goroutine only requests that
// wait on nothing (peer.Config.Inline): a load at the authority, a copy to
// a backup and a fetch. A request that may call another node or wait out
// a lease is handed to a handler goroutine, or it would hold up every
// request behind it on its connection.
func TestInlineNamesOnlyRequestsThatDoNotWait(t *testing.T) {
	s := routeStore(t, &fakeCaller{})
	var primary string
	for primary == "" || s.Owner(primary) != s.name {
		primary = session.NewID()
	}
	backup, elsewhere := backupID(s, true), backupID(s, false)
	rec := record(s, backup, 1, "1")
	load := func(id string, flags uint8) []byte {
		return (&routed{header: header{flags: flags}, id: id}).marshal(opLoad)
	}
	put := func(hint, id string) []byte {
		return (&putReq{hint: hint, id: id, data: anonymous(&rec)}).marshal()
	}
	if s.inline(opLoad, load(primary, 0)) {
		t.Error("load at a primary still pulling the partition (asks the other sources): inline = true, want false")
	}
	s.holdings.held[s.Table().Partition(primary)].Store(true) // pulled: the authority
	for _, tc := range []struct {
		name   string
		op     uint8
		body   []byte
		inline bool
	}{
		{"load at the primary", opLoad, load(primary, 0), true},
		{"load at a backup (asks the primary's copy)", opLoad, load(backup, flagFailover), false},
		{"redirected load", opLoad, load(primary, flagRedirected), false},
		{"copy to a backup", opPut, put("", backup), true},
		{"copy to a node that is no owner (a stale sender's table)", opPut, put("", elsewhere), true},
		{"copy to a stand-in (hands it back)", opPut, put("a", elsewhere), false},
		{"copy to the primary (may wait out a lease)", opPut, put("", primary), false},
		{"fetch", opFetch, (&fetchReq{id: backup}).marshal(), true},
		{"save (replicates)", opSave, (&routed{id: primary, patch: patchN(s, "1")}).marshal(opSave), false},
		{"pull (streams)", opPull, nil, false},
		{"unreadable load (answered with its error)", opLoad, []byte{0xff}, true},
		{"unreadable put (answered with its error)", opPut, []byte{0xff}, true},
	} {
		if got := s.inline(tc.op, tc.body); got != tc.inline {
			t.Errorf("%s: inline = %v, want %v", tc.name, got, tc.inline)
		}
	}

	// A copy to a backup of a partition this node still has a read lease
	// out on, given when it was the primary, waits for it to end (settle):
	// it is handed over.
	p := s.Table().Partition(backup)
	g := &s.grantor
	g.mu.Lock()
	l := g.lessee("c")
	cover := newBitset(s.cfg.Partitions)
	cover.add(p)
	l.grants = append(l.grants, grant{until: s.mono() + time.Hour, cover: cover})
	g.mu.Unlock()
	if s.inline(opPut, put("", backup)) {
		t.Error("copy to a backup of a partition leased out under an earlier table: inline = true, want false")
	}
	other := backup
	for s.Table().Partition(other) == p {
		other = backupID(s, true)
	}
	if !s.inline(opPut, put("", other)) {
		t.Error("copy to a backup of a partition not leased out: inline = false, want true")
	}
}
