package cluster

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/sessionmesh/sessionmesh/cluster/peer"
	"github.com/sessionmesh/sessionmesh/session"
)

// call is one request a fakeCaller saw.
type call struct {
	addr  string
	op    uint8
	flags uint8
}

// fakeCaller answers peer calls with reply(addr) and records them.
type fakeCaller struct {
	mu     sync.Mutex // guards calls and bodies
	calls  []call
	bodies [][]byte
	reply  func(addr string) ([]byte, error)
}

func (f *fakeCaller) Call(_ context.Context, addr string, op uint8, body []byte) ([]byte, error) {
	f.mu.Lock()
	f.calls = append(f.calls, call{addr, op, body[0]})
	f.bodies = append(f.bodies, body)
	f.mu.Unlock()
	return f.reply(addr)
}

// routeStore is a node with a fixed table of three members and no
// network: self is "b", so "a" or "c" is the primary of most partitions.
func routeStore(t *testing.T, caller Caller) *Store {
	t.Helper()
	cfg := DefaultLocalConfig().withDefaults()
	cfg.Logger = discardLogger()
	return stepNode(t, cfg, "b", caller, Member{Name: "a", Addr: "a:1"}, Member{Name: "b", Addr: "b:1"}, Member{Name: "c", Addr: "c:1"})
}

// remoteID returns a session ID whose primary is not self ("b").
func remoteID(s *Store) string {
	for {
		id := session.NewID()
		if s.Owner(id) != s.name {
			return id
		}
	}
}

func TestRouteFollowsOneRedirect(t *testing.T) {
	f := &fakeCaller{}
	s := routeStore(t, f)
	id := remoteID(s)
	primary, _ := s.Table().Member(s.Owner(id))
	f.reply = func(addr string) ([]byte, error) {
		if addr == primary.Addr {
			return nil, peer.Errorf(codeRedirect, "elsewhere:1")
		}
		return marshalFound(nil, false), nil
	}
	if _, found, err := s.Load(context.Background(), id); err != nil || found {
		t.Fatalf("Load = %v, %v; want not found, nil", found, err)
	}
	want := []call{{primary.Addr, opLoad, 0}, {"elsewhere:1", opLoad, flagRedirected}}
	if len(f.calls) != 2 || f.calls[0] != want[0] || f.calls[1] != want[1] {
		t.Fatalf("calls = %+v; want %+v", f.calls, want)
	}
}

func TestRouteNeverFollowsASecondRedirect(t *testing.T) {
	f := &fakeCaller{reply: func(string) ([]byte, error) { return nil, peer.Errorf(codeRedirect, "loop:1") }}
	s := routeStore(t, f)
	_, _, err := s.Load(context.Background(), remoteID(s))
	var rd *redirectError
	if !errors.As(err, &rd) {
		t.Fatalf("Load err = %v; want the second redirect returned as an error", err)
	}
	if len(f.calls) != 2 {
		t.Fatalf("made %d calls (%+v); want 2: the request and one redirect", len(f.calls), f.calls)
	}
}

// A primary that does not answer is skipped for the next replica, which
// is asked with flagFailover, and with flagSilent: it need not ask the
// primary for its copy. A primary that declines (it drains) still holds
// its copies: the next replica is asked without flagSilent.
func TestRouteFailsOverToNextReplica(t *testing.T) {
	for _, tc := range []struct {
		name  string
		err   error
		flags uint8
	}{
		{"no answer", peer.ErrUnavailable, flagFailover | flagSilent},
		{"declined", peer.Errorf(codeNotOwner, "draining"), flagFailover},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeCaller{}
			s := routeStore(t, f)
			var id string
			var order []Member
			for { // self ("b") last in the order, so both replicas are remote
				id = session.NewID()
				if order = s.Table().Order(s.Table().Partition(id)); order[2].Name == "b" {
					break
				}
			}
			f.reply = func(addr string) ([]byte, error) {
				if addr == order[0].Addr {
					return nil, tc.err
				}
				return marshalFound(anonymous(&session.Record{Created: s.cfg.Now(), Idle: s.cfg.Now().Add(time.Hour)}), true), nil
			}
			rec, found, err := s.Load(context.Background(), id)
			if err != nil || !found || rec.ID != id {
				t.Fatalf("Load = %q, %v, %v; want the backup's copy", rec.ID, found, err)
			}
			want := []call{{order[0].Addr, opLoad, 0}, {order[1].Addr, opLoad, tc.flags}}
			if len(f.calls) != 2 || f.calls[0] != want[0] || f.calls[1] != want[1] {
				t.Fatalf("calls = %+v; want %+v", f.calls, want)
			}
		})
	}
}

func TestAdmit(t *testing.T) {
	s := routeStore(t, &fakeCaller{})
	tb := s.Table()
	for p := 0; p < tb.Partitions(); p++ {
		order := tb.Order(p)
		err := s.admit(tb, p, header{})
		var rd *redirectError
		switch {
		case order[0].Name == "b" && err != nil:
			t.Fatalf("partition %d: primary refused: %v", p, err)
		case order[0].Name != "b" && (!errors.As(err, &rd) || rd.addr != order[0].Addr):
			t.Fatalf("partition %d: non-primary answered %v; want a redirect to %s", p, err, order[0].Addr)
		}
		// With N=2 and three members, Order[:N+1] is every member: a
		// flagged request is always served by a replica.
		if err := s.admit(tb, p, header{flags: flagRedirected}); err != nil {
			t.Fatalf("partition %d: redirected request refused: %v", p, err)
		}
	}
}

// A routed request carries what is left of the caller's deadline; one
// whose deadline has passed is not sent at all.
func TestRouteSendsTheDeadline(t *testing.T) {
	f := &fakeCaller{reply: func(string) ([]byte, error) { return marshalFound(nil, false), nil }}
	s := routeStore(t, f)
	id := remoteID(s)
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	if _, _, err := s.Load(ctx, id); err != nil {
		t.Fatal(err)
	}
	req, err := parseRouted(opLoad, f.bodies[0])
	dl, _ := ctx.Deadline()
	if err != nil || req.budget <= 59*time.Minute || req.budget > time.Hour || req.deadline != dl.UnixNano() {
		t.Fatalf("sent budget %v, deadline %v (%v); want just under the hour left and %v", req.budget, time.Unix(0, req.deadline), err, dl)
	}
	late, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Millisecond))
	defer cancel()
	if _, err := s.Save(late, id, session.Patch{Set: map[string][]byte{"k": []byte("1")}, Now: s.cfg.Now(), Idle: time.Hour}); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Save past the deadline: %v; want context.DeadlineExceeded", err)
	}
	if len(f.calls) != 1 {
		t.Errorf("made %d calls; want only the load's: a request past its deadline is not sent", len(f.calls))
	}
}

// The primary applies no write after the sender's deadline: the client
// may have retried elsewhere, and the late write would overwrite the
// retry's. The deadline is the earlier of the sender's time and its
// budget counted from arrival: a primary that was paused while the
// request waited in its socket finds the time passed though the budget
// is not. Within both the same write lands.
func TestPrimaryRefusesAWriteAfterItsDeadline(t *testing.T) {
	s := routeStore(t, &fakeCaller{reply: func(string) ([]byte, error) { return marshalFound(nil, false), nil }})
	var id string
	for id == "" || s.Owner(id) != s.name {
		id = session.NewID()
	}
	now := s.cfg.Now()
	if _, err := s.merge(&session.Record{ID: id, Values: map[string][]byte{"n": []byte("1")}, Created: now, Touched: now, Idle: now.Add(time.Hour), Version: 1}); err != nil {
		t.Fatal(err)
	}
	save := func(budget time.Duration, deadline time.Time) error {
		h := header{budget: budget, deadline: deadline.UnixNano()}
		req := routed{header: h, id: id, patch: session.Patch{Set: map[string][]byte{"n": []byte("2")}, Now: now, Idle: time.Hour}}
		_, err := s.handle(context.Background(), opSave, req.marshal(opSave))
		return fromRemote(err)
	}
	for _, late := range []struct {
		what     string
		budget   time.Duration
		deadline time.Time
	}{
		{"its budget spent", time.Nanosecond, time.Now().Add(time.Minute)},
		{"its deadline passed while it waited", time.Minute, time.Now().Add(-time.Second)},
	} {
		if err := save(late.budget, late.deadline); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("save with %s: %v; want context.DeadlineExceeded", late.what, err)
		}
		if rec, _ := s.engine.Get(id); string(rec.Values["n"]) != "1" || rec.Version != 1 {
			t.Fatalf("after the save with %s the record is n=%s v%d; want it unchanged", late.what, rec.Values["n"], rec.Version)
		}
	}
	if err := save(time.Minute, time.Now().Add(time.Minute)); err != nil {
		t.Fatalf("save within its budget: %v", err)
	}
	if rec, _ := s.engine.Get(id); string(rec.Values["n"]) != "2" {
		t.Fatalf("after the save within its budget n=%s; want 2", rec.Values["n"])
	}
}

// A replica reached on failover past replicas that did not answer in time
// (flagSilent) skips them when it looks for copies, but then it has not
// heard from every source: a replica that timed out (held by a pause
// check of its own, say) may well hold the session. So a miss there is
// ErrUnavailable, never "not found": seen in TestFreeze, where such a miss
// made users' sessions vanish (the demo then started new ones).
func TestMissAfterSkippingSilentReplicasIsNotFinal(t *testing.T) {
	f := &fakeCaller{reply: func(string) ([]byte, error) { return marshalFound(nil, false), nil }}
	s := routeStore(t, f)
	var id string
	for { // self ("b") the backup: an owner that does not hold p yet
		id = session.NewID()
		if order := s.Table().Order(s.Table().Partition(id)); order[0].Name == "a" && order[1].Name == "b" {
			break
		}
	}
	req := routed{header: header{flags: flagFailover | flagSilent}, id: id}
	_, err := s.handle(context.Background(), opLoad, req.marshal(opLoad))
	if err := fromRemote(err); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("load on failover past a silent primary, no copy anywhere asked: %v; want ErrUnavailable", err)
	}
	for _, c := range f.calls {
		if c.addr == "a:1" {
			t.Errorf("asked the silent primary again: %+v", f.calls)
		}
	}
	req.flags = flagFailover // the primary declined rather than timed out: it was asked, and its miss counts
	if resp, err := s.handle(context.Background(), opLoad, req.marshal(opLoad)); err != nil {
		t.Fatalf("load on failover past a declining primary, every source answered: %v; want not found", err)
	} else if _, found, _ := parseFound(resp); found {
		t.Fatal("found a session nobody holds")
	}
}

// A node serving a session it is no authority for, whose sources do not
// answer, serves the copy it has (available, possibly stale) by default;
// with Quorum, which puts consistency first, it refuses instead: a stale
// read written back elsewhere loses the writes in between.
func TestCopyFoundWithoutEverySourceIsServedOnlyWithoutQuorum(t *testing.T) {
	for _, quorum := range []bool{false, true} {
		s := routeStore(t, &fakeCaller{reply: func(string) ([]byte, error) { return nil, peer.ErrUnavailable }})
		s.cfg.AvailableFirst = !quorum
		var id string
		for { // self ("b") the backup: served on failover, sources silent
			id = session.NewID()
			if order := s.Table().Order(s.Table().Partition(id)); order[0].Name == "a" && order[1].Name == "b" {
				break
			}
		}
		now := s.cfg.Now()
		if _, err := s.merge(&session.Record{ID: id, Created: now, Touched: now, Idle: now.Add(time.Hour), Version: 1}); err != nil {
			t.Fatal(err)
		}
		req := routed{header: header{flags: flagFailover}, id: id}
		resp, err := s.handle(context.Background(), opLoad, req.marshal(opLoad))
		_, found, _ := parseFound(resp)
		switch err := fromRemote(err); {
		case !quorum && (err != nil || !found):
			t.Errorf("without Quorum: %v, found %v; want this node's copy", err, found)
		case quorum && !errors.Is(err, ErrUnavailable):
			t.Errorf("with Quorum: %v, found %v; want ErrUnavailable", err, found)
		}
		// The primary crashed: the sender found it silent, and this backup
		// has every write it acknowledged. Served either way, once the
		// sources still asked (the next node) answer.
		s.caller = &fakeCaller{reply: func(string) ([]byte, error) { return marshalFound(nil, false), nil }}
		req.flags = flagFailover | flagSilent
		resp, err = s.handle(context.Background(), opLoad, req.marshal(opLoad))
		if _, found, _ := parseFound(resp); err != nil || !found {
			t.Errorf("quorum %v, failover past a silent primary: %v, found %v; want this node's copy", quorum, fromRemote(err), found)
		}
	}
}

// A member whose connection just failed is skipped by the requests that
// follow (they fail over at once instead of each paying a failed dial)
// until it answers again or downFor passes. Replication still tries it,
// and a timeout marks nothing: a slow member is not a dead one.
func TestPeerThatJustFailedIsSkipped(t *testing.T) {
	f := &fakeCaller{}
	s := routeStore(t, f)
	var mono time.Duration
	s.mono = func() time.Duration { return mono }
	var order []Member
	ids := make([]string, 0, 2)
	for len(ids) < 2 { // sessions whose primary is "a", with "c" next and self last
		id := session.NewID()
		if o := s.Table().Order(s.Table().Partition(id)); o[0].Name == "a" && o[2].Name == "b" {
			order, ids = o, append(ids, id)
		}
	}
	dead, slow := true, false
	f.reply = func(addr string) ([]byte, error) {
		if addr == order[0].Addr && slow {
			return nil, fmt.Errorf("%w: no answer: %w", peer.ErrUnavailable, context.DeadlineExceeded)
		}
		if addr == order[0].Addr && dead {
			return nil, fmt.Errorf("%w: dial: connection refused", peer.ErrUnavailable)
		}
		return marshalFound(anonymous(&session.Record{Created: s.cfg.Now(), Idle: s.cfg.Now().Add(time.Hour)}), true), nil
	}
	callsTo := func(addr string) int {
		f.mu.Lock()
		defer f.mu.Unlock()
		n := 0
		for _, c := range f.calls {
			if c.addr == addr {
				n++
			}
		}
		return n
	}
	load := func(id string) {
		t.Helper()
		if _, found, err := s.Load(context.Background(), id); err != nil || !found {
			t.Fatalf("Load: %v, %v; want the next replica's copy", found, err)
		}
	}
	load(ids[0])
	load(ids[1])
	if n := callsTo(order[0].Addr); n != 1 {
		t.Fatalf("the failed primary was called %d times; want once, then skipped", n)
	}
	if err := s.put(context.Background(), order[0], "", ids[0], nil); !errors.Is(err, peer.ErrUnavailable) || callsTo(order[0].Addr) != 2 {
		t.Fatalf("put to the failed peer: %v after %d calls in all; want it tried (2 calls) and ErrUnavailable", err, callsTo(order[0].Addr))
	}
	mono += s.cfg.downFor()
	dead = false
	load(ids[1])
	if n := callsTo(order[0].Addr); n != 3 {
		t.Fatalf("after downFor the primary was called %d times in all; want it asked again", n)
	}
	load(ids[0])
	if n := callsTo(order[0].Addr); n != 4 {
		t.Fatalf("once it answered, the primary was called %d times in all; want every request to go to it", n)
	}
	slow = true
	load(ids[0])
	load(ids[1])
	if n := callsTo(order[0].Addr); n != 6 {
		t.Fatalf("after a timeout the primary was called %d times in all; want every request to still try it", n)
	}
}

// A worker restarted at the address of one that died is a new member (a
// new name): the dead one's failed connection does not make requests
// skip it.
func TestRestartedMemberAtTheSameAddressIsNotSkipped(t *testing.T) {
	f := &fakeCaller{}
	s := routeStore(t, f)
	refused := fmt.Errorf("%w: dial: connection refused", peer.ErrUnavailable)
	s.noteConnection("a", refused) // "a" at a:1 died
	s.members.mu.Lock()
	s.members.removeLocked("a", false)
	s.members.applyLocked("a2", nodeMeta{Version: metaVersion, Peer: "a:1"}) // restarted at a:1
	s.members.mu.Unlock()
	f.reply = func(string) ([]byte, error) {
		return marshalFound(anonymous(&session.Record{Created: s.cfg.Now(), Idle: s.cfg.Now().Add(time.Hour)}), true), nil
	}
	for {
		id := session.NewID()
		if s.Table().Order(s.Table().Partition(id))[0].Name != "a2" {
			continue
		}
		if _, _, err := s.Load(context.Background(), id); err != nil {
			t.Fatal(err)
		}
		break
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.calls) == 0 || f.calls[0].addr != "a:1" {
		t.Fatalf("calls %+v; want the first to the new member at a:1", f.calls)
	}
}

// A node whose transport has just failed to reach most of the others
// reports itself cut off (not Ready) before gossip declares them dead,
// and not once they answer again or downFor has passed.
func TestNodeThatReachesNoMajorityIsCutOff(t *testing.T) {
	s := routeStore(t, &fakeCaller{})
	var mono time.Duration
	s.mono = func() time.Duration { return mono }
	if s.cutOff() {
		t.Fatal("cut off with every peer reachable")
	}
	s.down.mark("a", mono+s.cfg.downFor())
	if s.cutOff() {
		t.Fatal("cut off with one of two peers down: two of three still reach each other")
	}
	s.down.mark("c", mono+s.cfg.downFor())
	if !s.cutOff() {
		t.Fatal("not cut off with both peers down")
	}
	s.cfg.AvailableFirst = true
	if s.cutOff() {
		t.Fatal("cut off with AvailableFirst, which keeps serving")
	}
	s.cfg.AvailableFirst = false
	s.down.clear("c", mono) // c answered
	if s.cutOff() {
		t.Fatal("still cut off after a peer answered")
	}
	s.down.mark("c", mono+s.cfg.downFor())
	mono += s.cfg.downFor()
	if s.cutOff() {
		t.Fatal("still cut off after downFor")
	}
}

// A copy that the replicas refuse because they are at their bounds fails
// the save with session.ErrFull (a new session refused, 503), not with
// ErrUnavailable: nothing is down, the cluster is full.
func TestReplicasAtTheirBoundsRefuseWithErrFull(t *testing.T) {
	f := &fakeCaller{reply: func(string) ([]byte, error) {
		return nil, peer.Errorf(codeFull, "node is a quarter over its bounds")
	}}
	s := routeStore(t, f)
	id := session.NewID()
	for s.Owner(id) != s.name {
		id = session.NewID()
	}
	err := s.replicate(context.Background(), s.Table().Partition(id), id, nil)
	if !errors.Is(err, session.ErrFull) || errors.Is(err, ErrUnavailable) {
		t.Fatalf("replicate to full replicas: %v; want session.ErrFull", err)
	}
	f.reply = func(string) ([]byte, error) { return nil, fmt.Errorf("%w: connection refused", peer.ErrUnavailable) }
	if err := s.replicate(context.Background(), s.Table().Partition(id), id, nil); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("replicate to unreachable replicas: %v; want ErrUnavailable", err)
	}
}

// The entry of a member that died and is never asked again goes once it
// has expired, at the next answer of any member: requests stop taking the
// lock the downs set needs while it has entries.
func TestExpiredDownsAreForgotten(t *testing.T) {
	var d downs
	d.mark("dead", 10)
	d.clear("b", 5)
	if d.n.Load() != 1 {
		t.Fatalf("an entry that has not expired was forgotten: %d entries", d.n.Load())
	}
	d.clear("b", 10)
	if d.n.Load() != 0 || len(d.until) != 0 {
		t.Fatalf("%d entries (%v) after the dead member's expired; want none", d.n.Load(), d.until)
	}
}
