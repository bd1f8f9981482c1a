package cluster

import (
	"context"
	"encoding/binary"
	"testing"
	"time"

	"github.com/sessionmesh/sessionmesh/cluster/peer"
	"github.com/sessionmesh/sessionmesh/session"
)

// leasePair is primary-to-be "a" and backup-to-be "b" (N=2, two members,
// so each is the other's backup), built with stepNode, ready, holding
// every partition, calling each other in-process on the sender's
// connection.
func leasePair(t *testing.T) (a, b *Store) {
	t.Helper()
	cfg := DefaultLocalConfig().withDefaults()
	cfg.Logger = discardLogger()
	cfg.AvailableFirst = true // no stable set to wait for
	nodes := map[string]*Store{}
	caller := func(self string) Caller {
		return CallerFunc(func(ctx context.Context, addr string, op uint8, body []byte) ([]byte, error) {
			return nodes[addr].handle(peer.NewContext(ctx, peer.Remote{Name: self}), op, body)
		})
	}
	ms := []Member{{Name: "a", Addr: "a:1"}, {Name: "b", Addr: "b:1"}}
	a = stepNode(t, cfg, "a", caller("a"), ms...)
	b = stepNode(t, cfg, "b", caller("b"), ms...)
	nodes["a:1"], nodes["b:1"] = a, b
	for _, s := range []*Store{a, b} {
		s.grantor.by = nil // the table appeared at once: every member looked back from a split
		s.ready.Store(true)
		s.contact()
		for p := range s.cfg.Partitions {
			s.holdings.markHeld(p, s.holdings.gen[p])
		}
	}
	return a, b
}

// backedUp returns two partitions whose primary is a (b their backup).
func backedUp(t *testing.T, a *Store) (p, q int) {
	t.Helper()
	var ps []int
	for p := range a.cfg.Partitions {
		if a.Table().IsPrimary(p, "a") {
			ps = append(ps, p)
		}
	}
	if len(ps) < 2 {
		t.Fatal("a is primary of fewer than two partitions")
	}
	return ps[0], ps[1]
}

// A lease answer that was on its way while the primary revoked (a's
// revocation reached b first) is not used; the next lease leaves out the
// partition b missed a write of, and b pulls it again before it is
// covered.
func TestLeaseAnswerThatCrossedARevocationIsNotUsed(t *testing.T) {
	a, b := leasePair(t)
	p, q := backedUp(t, a)
	print := binary.AppendUvarint(nil, a.Table().Fingerprint())
	late, err := a.handle(peer.NewContext(context.Background(), peer.Remote{Name: "b"}), opLease, print)
	if err != nil {
		t.Fatal(err)
	}
	// A write of p that b did not store: a revokes b's lease (b answers).
	if err := a.settle(context.Background(), noLeases, true, p); err != nil {
		t.Fatal(err)
	}
	if a.Stats().LeaseRevocations != 1 {
		t.Fatalf("revocations %d; want 1", a.Stats().LeaseRevocations)
	}
	inner := b.caller
	b.caller = CallerFunc(func(context.Context, string, uint8, []byte) ([]byte, error) { return late, nil })
	b.renewLeases()
	if b.leased(p) || b.leased(q) {
		t.Fatal("b reads under a lease granted before the revocation it saw")
	}
	b.caller = inner
	b.renewLeases()
	if !b.leased(q) {
		t.Fatal("b has no lease for q after the revocation ended")
	}
	if b.leased(p) || b.holdings.holds(p) {
		t.Fatal("b still serves, or holds, the partition whose write it missed")
	}
	// b pulls p from a (its mover would): a's stream clears p.
	gens := a.grantor.dirtyGens("b", []int{p})
	a.grantor.pulled("b", []int{p}, gens)
	b.holdings.markHeld(p, b.holdings.gen[p])
	b.renewLeases()
	if !b.leased(p) {
		t.Fatal("b has no lease for p after pulling it again")
	}
}

// No lease covers a partition a joining node is pulling from the
// primary; registering the puller ends the leases that did.
func TestRegisteredPullEndsLeasesOfItsPartitions(t *testing.T) {
	a, b := leasePair(t)
	p, q := backedUp(t, a)
	b.renewLeases()
	if !b.leased(p) || !b.leased(q) {
		t.Fatal("b got no lease")
	}
	a.receivers.add(Member{Name: "j", Addr: "j:1"}, []int{p}, a.cfg.Now().Add(a.cfg.TransferTimeout))
	if err := a.settle(context.Background(), noLeases, false, p); err != nil {
		t.Fatal(err)
	}
	if b.leased(p) {
		t.Fatal("b still reads p after a registered a puller of it")
	}
	b.renewLeases()
	if b.leased(p) || !b.leased(q) {
		t.Fatalf("after the registration: leased p %v (want false), q %v (want true)", b.leased(p), b.leased(q))
	}
	if !b.holdings.holds(p) {
		t.Fatal("a registration is no missed write: b should still hold p")
	}
}

// A backup that gets no loads stops asking for leases after leaseIdle, and
// asks again after its next load: behind a sticky balancer, or idle, the
// cluster spends nothing on leases.
func TestIdleBackupAsksForNoLeases(t *testing.T) {
	a, b := leasePair(t)
	var id string
	for id == "" || !a.Table().IsPrimary(a.Table().Partition(id), "a") {
		id = session.NewID()
	}
	p := a.Table().Partition(id)
	var now time.Duration
	b.mono = func() time.Duration { return now }
	asks, inner := 0, b.caller
	b.caller = CallerFunc(func(ctx context.Context, addr string, op uint8, body []byte) ([]byte, error) {
		if op == opLease {
			asks++
		}
		return inner.Call(ctx, addr, op, body)
	})
	b.renewLeases()
	if asks != 1 || !b.leased(p) {
		t.Fatalf("a backup that just started asked for %d leases, leased %v; want 1, true", asks, b.leased(p))
	}
	// The renewals, every ReadLease/3, beside the heartbeat and the
	// other members' answers (without them the clock's advance would be
	// a pause: pause.go).
	renew := func(until time.Duration) {
		for now < until {
			now += b.cfg.ReadLease / 3
			b.checkPause()
			b.contact()
			b.renewLeases()
		}
	}
	renew(leaseIdle * b.cfg.ReadLease)
	if asks < leaseIdle*3 {
		t.Fatalf("a backup asked for %d leases in its first %d ReadLeases; want one every ReadLease/3", asks, leaseIdle)
	}
	renew(now + b.cfg.ReadLease) // idle from here on
	asked := asks
	renew(now + 3*b.cfg.ReadLease)
	if asks != asked {
		t.Fatalf("a backup without a load for %v asked for %d more leases; want none", now, asks-asked)
	}
	if held := *b.leases.view.Load(); len(held) != 0 {
		t.Fatalf("a backup without a load for %v kept %d leases", now, len(held))
	}
	if _, _, err := b.LoadBinary(context.Background(), id); err != nil {
		t.Fatalf("load at the backup: %v", err)
	}
	b.renewLeases()
	if asks != asked+1 || !b.leased(p) {
		t.Fatalf("after a load at the backup: %d lease requests, leased %v; want 1, true", asks-asked, b.leased(p))
	}
}
