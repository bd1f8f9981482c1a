package cluster

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/sessionmesh/sessionmesh/cluster/peer"
	"github.com/sessionmesh/sessionmesh/session"
)

// backupID returns a session ID whose partition has s as its backup (not
// its primary) in s's table, or, with backup false, one s does not own.
func backupID(s *Store, backup bool) string {
	for {
		id := session.NewID()
		t := s.Table()
		p := t.Partition(id)
		if backup && t.IsOwner(p, s.name) && !t.IsPrimary(p, s.name) || !backup && !t.IsOwner(p, s.name) {
			return id
		}
	}
}

// record returns a live copy of id at version v holding n.
func record(s *Store, id string, v uint64, n string) session.Record {
	now := s.cfg.Now()
	return session.Record{ID: id, Values: map[string][]byte{"n": []byte(n)}, Created: now, Touched: now, Idle: now.Add(time.Hour), Version: v}
}

func patchN(s *Store, n string) session.Patch {
	return session.Patch{Set: map[string][]byte{"n": []byte(n)}, Now: s.cfg.Now(), Idle: time.Hour}
}

// A backup that saves a session asks its primary to let it keep the copy
// (flagKeep) and stores the record the primary answers with before the
// save returns; a node that is not an owner asks nothing, and stores
// nothing whatever the answer.
func TestBackupKeepsTheCopyOfItsSave(t *testing.T) {
	for _, tc := range []struct {
		name   string
		backup bool
		flags  uint8
		stored bool
	}{
		{"backup", true, flagKeep, true},
		{"not an owner", false, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeCaller{}
			s := routeStore(t, f)
			id := backupID(s, tc.backup)
			written := record(s, id, 2, "2")
			f.reply = func(string) ([]byte, error) { return marshalFound(anonymous(&written), true), nil }
			if _, err := s.Save(context.Background(), id, patchN(s, "2")); err != nil {
				t.Fatalf("Save: %v", err)
			}
			primary, _ := s.Table().Member(s.Owner(id))
			if want := (call{primary.Addr, opSave, tc.flags}); len(f.calls) != 1 || f.calls[0] != want {
				t.Fatalf("calls = %+v; want %+v", f.calls, want)
			}
			got, ok := s.engine.Get(id)
			if ok != tc.stored || ok && (got.Version != 2 || string(got.Values["n"]) != "2") {
				t.Fatalf("copy here after the save: %v v%d n=%s; want stored=%v", ok, got.Version, got.Values["n"], tc.stored)
			}
			want := uint64(0)
			if tc.stored {
				want = 1
			}
			if kept := s.Stats().KeptCopies; kept != want {
				t.Fatalf("Stats.KeptCopies = %d after the save; want %d", kept, want)
			}
		})
	}
}

// The copy a backup keeps is a copy like any other: when a newer version
// reached it first (the primary's next write, replicated as a put), the
// older copy loses and the save still succeeds, since the newer version
// was written on top of it. A copy that cannot be stored fails the save:
// one that does not decode, or one that reaches a node that began to
// drain meanwhile (which takes no copies).
func TestKeptCopyFollowsTheVersionRule(t *testing.T) {
	f := &fakeCaller{}
	s := routeStore(t, f)
	id := backupID(s, true)
	newer, older := record(s, id, 3, "3"), record(s, id, 2, "2")
	if _, err := s.merge(&newer); err != nil {
		t.Fatal(err)
	}
	f.reply = func(string) ([]byte, error) { return marshalFound(anonymous(&older), true), nil }
	if _, err := s.Save(context.Background(), id, patchN(s, "2")); err != nil {
		t.Fatalf("Save: %v", err)
	}
	if got, _ := s.engine.Get(id); got.Version != 3 {
		t.Fatalf("kept v%d; want the newer v3", got.Version)
	}

	f.reply = func(string) ([]byte, error) { return []byte{1, 0xff}, nil }
	if _, err := s.Save(context.Background(), id, patchN(s, "4")); !errors.Is(err, ErrBadMessage) {
		t.Fatalf("Save with a copy that does not decode: %v; want ErrBadMessage", err)
	}
	f.reply = func(string) ([]byte, error) {
		s.draining.Store(true) // Drain began while the save was away
		next := record(s, id, 4, "4")
		return marshalFound(anonymous(&next), true), nil
	}
	if _, err := s.Save(context.Background(), id, patchN(s, "4")); !errors.Is(err, ErrNotOwner) {
		t.Fatalf("Save whose copy reaches a draining node: %v; want ErrNotOwner", err)
	}
	if got, _ := s.engine.Get(id); got.Version != 3 {
		t.Fatalf("a draining node stored v%d; want v3 kept", got.Version)
	}
	f.calls = nil // a node that drains asks for no copy, and takes none
	if _, err := s.Save(context.Background(), id, patchN(s, "5")); err != nil || len(f.calls) != 1 || f.calls[0].flags&flagKeep != 0 {
		t.Fatalf("Save from a draining node: %v, calls %+v; want one call without flagKeep", err, f.calls)
	}
	if got, _ := s.engine.Get(id); got.Version != 3 {
		t.Fatalf("a draining node stored v%d; want v3 kept", got.Version)
	}
}

// The primary leaves a sender that keeps its copy out of the replication
// only when its own table has the sender among the owners, and answers
// with the record it wrote; any other sender (not an owner here, or one
// that did not ask) changes nothing: every owner gets its put.
func TestPrimaryLeavesTheKeeperOutOfTheReplication(t *testing.T) {
	f := &fakeCaller{reply: func(string) ([]byte, error) { return marshalFlag(true), nil }}
	cfg := DefaultLocalConfig().withDefaults()
	cfg.Logger = discardLogger()
	s := stepNode(t, cfg, "a", f, Member{Name: "a", Addr: "a:1"}, Member{Name: "b", Addr: "b:1"}, Member{Name: "c", Addr: "c:1"})
	var id string
	var backup Member
	for {
		id = session.NewID()
		if own := s.Table().Owners(s.Table().Partition(id)); own[0].Name == "a" {
			backup = own[1]
			break
		}
	}
	s.holdings.held[s.Table().Partition(id)].Store(true) // pulled: the authority
	other := "b"
	if backup.Name == "b" {
		other = "c"
	}
	first := record(s, id, 1, "1")
	if _, err := s.merge(&first); err != nil {
		t.Fatal(err)
	}
	for i, tc := range []struct {
		name  string
		from  string
		flags uint8
		kept  bool
	}{
		{"the backup keeps its copy", backup.Name, flagKeep, true},
		{"a sender that is not an owner", other, flagKeep, false},
		{"the backup without flagKeep", backup.Name, 0, false},
		{"in-process", "", flagKeep, false},
	} {
		f.mu.Lock()
		f.calls = nil
		f.mu.Unlock()
		n := string(rune('2' + i))
		req := routed{header: header{flags: tc.flags}, from: tc.from, id: id, patch: patchN(s, n)}
		resp, err := s.serve(context.Background(), opSave, req)
		if err != nil {
			t.Fatalf("%s: serve: %v", tc.name, err)
		}
		puts := 0
		for _, c := range f.calls {
			if c.op == opPut && c.addr == backup.Addr {
				puts++
			}
		}
		if tc.kept {
			data, found, err := parseFound(resp)
			got, derr := decodeFound(id, data)
			if err != nil || !found || derr != nil || got.Version != uint64(i+2) || string(got.Values["n"]) != n || puts != 0 {
				t.Fatalf("%s: reply v%d n=%s (%v %v %v), %d puts to the backup; want v%d n=%s and none", tc.name, got.Version, got.Values["n"], found, err, derr, puts, i+2, n)
			}
			continue
		}
		if len(resp) != 0 || puts != 1 {
			t.Fatalf("%s: reply of %d bytes, %d puts to the backup; want none and one", tc.name, len(resp), puts)
		}
	}
}

// A save that asked to keep its copy keeps asking on failover: when the
// primary does not answer and no member can relay to it, the next replica
// serves it as acting primary, leaves the sender out of its replication
// and answers with the record, which the sender stores before the save is
// acknowledged (with N=3 that replica is another backup).
func TestKeptCopyOnFailover(t *testing.T) {
	cfg := DefaultLocalConfig().withDefaults()
	cfg.Logger = discardLogger()
	cfg.Replicas = 3
	var mu sync.Mutex
	var calls []call
	var s *Store
	var id string
	s = stepNode(t, cfg, "b", CallerFunc(func(_ context.Context, addr string, op uint8, body []byte) ([]byte, error) {
		mu.Lock()
		calls = append(calls, call{addr, op, body[0]})
		mu.Unlock()
		if addr != "c:1" || body[0]&flagFailover == 0 {
			return nil, fmt.Errorf("%s refused: %w", addr, peer.ErrUnavailable) // the primary, and c relaying to it
		}
		written := record(s, id, 2, "2")
		return marshalFound(anonymous(&written), true), nil
	}), Member{Name: "a", Addr: "a:1"}, Member{Name: "b", Addr: "b:1"}, Member{Name: "c", Addr: "c:1"})
	for {
		id = session.NewID()
		if c := s.Table().Candidates(s.Table().Partition(id)); c[0].Name == "a" && c[1].Name == "c" {
			break
		}
	}
	if _, err := s.Save(context.Background(), id, patchN(s, "2")); err != nil {
		t.Fatalf("Save on failover: %v", err)
	}
	want := []call{
		{"a:1", opSave, flagKeep},
		{"c:1", opSave, flagRelay},
		{"c:1", opSave, flagKeep | flagFailover | flagSilent},
	}
	if !slices.Equal(calls, want) {
		t.Fatalf("calls = %+v; want %+v", calls, want)
	}
	if got, ok := s.engine.Get(id); !ok || got.Version != 2 || string(got.Values["n"]) != "2" {
		t.Fatalf("copy here after the save: %v v%d n=%s; want the acting primary's v2", ok, got.Version, got.Values["n"])
	}
	if kept := s.Stats().KeptCopies; kept != 1 {
		t.Fatalf("Stats.KeptCopies = %d; want 1", kept)
	}
}
