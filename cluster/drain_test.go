package cluster_test

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/sessionmesh/sessionmesh/cluster"
	"github.com/sessionmesh/sessionmesh/internal/testutil"

	"github.com/sessionmesh/sessionmesh/cluster/clustertest"
)

// Draining one of three nodes while users write: taken out of rotation
// (as a load balancer does when readiness fails), it marks itself
// draining, hands every session to the new owners and leaves. No request
// fails, no write is lost, and the two others end up with every session.
// With one copy per session (Replicas 1) the drained node holds the only
// copy of a third of them, and the new owners must not serve those
// before they have them.
func TestDrainUnderWritersFailsNothing(t *testing.T) {
	scenario(t)
	for _, replicas := range []int{2, 1} {
		t.Run(fmt.Sprintf("replicas=%d", replicas), func(t *testing.T) {
			c := clustertest.New(t, 3, patient(), clustertest.WithConfig(func(_ int, cfg *cluster.Config) { cfg.Replicas = replicas }))
			c.WaitConverged(converge)
			ids := createMany(t, c, 2000)
			l := startLoad(t, c, 12, true)
			l.advance(100)
			l.remove(1)
			if err := c.Drain(t.Context(), 1); err != nil {
				t.Fatalf("drain: %v", err)
			}
			if c.Store(1).Ready() {
				t.Fatal("a drained node reports ready")
			}
			if err := c.Store(1).Drain(t.Context()); err != nil {
				t.Fatalf("second drain: %v", err)
			}
			c.WaitReplicated(converge)
			l.advance(100)
			l.check()
			want := replicas * (len(ids) + len(l.users))
			testutil.Eventually(t, converge, fmt.Sprintf("the two nodes left hold %d sessions", want), func() bool { return sessionsHeld(t, c, 0) == want })
		})
	}
}

// Close drains: when it returns, the new owners hold every session the
// node had, without pulling anything themselves. Here they cannot (their
// session traffic to each other is blocked), so only the hand-off can
// have put the copies there: once node 0 is gone too, node 1 alone still
// serves every session.
func TestCloseHandsEverySessionOff(t *testing.T) {
	scenario(t)
	// AvailableFirst: the last node serves alone, which shows what it holds.
	c := clustertest.New(t, 3, patient(), availableFirst())
	c.WaitConverged(converge)
	ids := createMany(t, c, 1000)
	c.BlockPeer(0, 1)
	c.BlockPeer(1, 0)
	if err := c.Close(2); err != nil {
		t.Fatalf("close: %v", err)
	}
	c.Kill(0)
	c.WaitConverged(converge)
	for k, id := range ids {
		if n, ok := value(t, c.Store(1), id, "n"); !ok || n != k {
			t.Fatalf("the last node reads session %d as n=%d found=%v", k, n, ok)
		}
	}
}

// A write whose copy could not reach the backup sits as a hinted copy on
// the next node. When the primary then drains, the backup takes over
// before anyone brought it the write (here the hint cannot go home, and
// the primary's hand-off cannot reach it either): it must serve the
// newest copy among the partition's sources, not its own stale one.
func TestPromotedBackupServesTheHintedWrite(t *testing.T) {
	scenario(t)
	c := clustertest.New(t, 3)
	c.WaitConverged(converge)
	var id string
	for id == "" || c.Owners(0, id)[0] != 0 {
		id = create(t, c.Store(0), map[string]any{"side": "first"})
	}
	backup := c.Owners(0, id)[1]
	spare := 3 - backup
	c.BlockPeer(0, backup)
	c.BlockPeer(spare, backup)
	save(t, c.Store(0), id, "second") // the spare keeps it for the backup
	c.Drain(t.Context(), 0)           // fails to hand off to the backup; stops anyway
	// Until the drained node is gone from its table, the backup cannot
	// tell whether it had a newer copy: the quorum guard makes that read
	// fail (503, retried) rather than risk a stale one. Never stale.
	testutil.EventuallyNil(t, converge, "the promoted backup reads the second write", func() error {
		rec, found, err := c.Store(backup).Load(t.Context(), id)
		if err != nil {
			return err
		}
		var side string
		json.Unmarshal(rec.Values["side"], &side)
		if !found || side != "second" {
			t.Fatalf("the promoted backup reads %q (found %t); want the acknowledged second write", side, found)
		}
		return nil
	})
	c.Heal()
	c.WaitReplicated(converge)
	if got := sideOf(t, c.Store(backup), id); got != "second" {
		t.Fatalf("once it holds the partition again, the backup reads %q; want second", got)
	}
}

// Scaling down removes several workers at once (docker compose up
// --scale worker=3 from 5 stops two): they drain concurrently, and a
// partition whose primary and backup are both leaving has its only
// copies on them. Each must hand its sessions to owners that stay, not
// to the other leaving node, which would take them along: a hand-off
// that a draining node refuses is retried with the newer table. No write
// is lost and the three nodes left hold every session twice. What is
// asserted is what users rely on: no acknowledged write lost, and the
// users keep saving after the drains. A request refused for the moment
// while five nodes share a loaded machine (a 503 the user retries, as
// the load does) is not a failure here; TestDrainUnderWritersFailsNothing
// asks for no failed request at all.
func TestDrainingTwoAtOnceLosesNothing(t *testing.T) {
	scenario(t)
	c := clustertest.New(t, 5, patient(), slowProbes())
	c.WaitConverged(converge)
	ids := createMany(t, c, 3000)
	l := startLoad(t, c, 12, false)
	l.advance(100)
	l.remove(3)
	l.remove(4)
	errs := make(chan error, 2)
	for _, i := range []int{3, 4} {
		go func() { errs <- c.Drain(t.Context(), i) }()
	}
	for range 2 {
		if err := <-errs; err != nil {
			t.Errorf("drain: %v", err)
		}
	}
	c.WaitReplicated(converge)
	l.advance(100)
	l.check()
	for k, id := range ids {
		if n, ok := settledValue(t, c.Store(0), id, "n"); !ok || n != k {
			t.Fatalf("session %d %s reads as n=%d found=%v after two nodes drained", k, id, n, ok)
		}
	}
	want := 2 * (len(ids) + len(l.users))
	testutil.Eventually(t, converge, fmt.Sprintf("the three nodes left hold %d sessions", want), func() bool { return sessionsHeld(t, c, 0) == want })
}

// HandOff is Drain without the stop: the node holds nothing the others
// lack afterwards, is not ready, and yet still serves the requests a
// server sends it before it stops taking them, by routing them to the
// owners. Close then stops it without anything left to hand off.
func TestHandOffKeepsRoutingUntilClose(t *testing.T) {
	scenario(t)
	c := clustertest.New(t, 3, patient())
	c.WaitConverged(converge)
	ids := createMany(t, c, 300)
	if err := c.Store(1).HandOff(t.Context()); err != nil {
		t.Fatalf("hand-off: %v", err)
	}
	if c.Store(1).Ready() {
		t.Fatal("ready after the hand-off")
	}
	if err := c.Store(1).HandOff(t.Context()); err != nil {
		t.Fatalf("second hand-off: %v", err)
	}
	for k, id := range ids {
		if _, err := c.Store(1).Save(t.Context(), id, set(map[string]any{"n": k + 1})); err != nil {
			t.Fatalf("save %d through the handed-off node: %v", k, err)
		}
		if n, ok := value(t, c.Store(1), id, "n"); !ok || n != k+1 {
			t.Fatalf("the handed-off node reads session %d as n=%d found=%v; want %d", k, n, ok, k+1)
		}
	}
	if err := c.Close(1); err != nil {
		t.Fatalf("close after the hand-off: %v", err)
	}
	c.WaitReplicated(converge)
	for k, id := range ids {
		if n, ok := value(t, c.Store(0), id, "n"); !ok || n != k+1 {
			t.Fatalf("after close, session %d reads as n=%d found=%v; want %d", k, n, ok, k+1)
		}
	}
}

// A drain says how far its hand-off got as it goes, and when it is done,
// with counts and never a session ID.
func TestDrainLogsProgress(t *testing.T) {
	scenario(t)
	defer cluster.LogProgressEveryBatch()()
	var logs testutil.Buffer
	c := clustertest.New(t, 3, clustertest.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	c.WaitConverged(converge)
	ids := createMany(t, c, 300)
	if err := c.Drain(t.Context(), 1); err != nil {
		t.Fatalf("drain: %v", err)
	}
	log := logs.String()
	for _, want := range []string{"cluster: handing sessions off", "cluster: drained"} {
		if !strings.Contains(log, want) {
			t.Errorf("the drain's log has no %q:\n%s", want, log)
		}
	}
	for _, id := range ids {
		if strings.Contains(log, id) {
			t.Fatalf("the log names session %s", id)
		}
	}
}

// slowProbes gives memberlist's failure detector the patience that
// patient's ProbeTimeout does not: memberlist ends a probe (the direct
// ping, the indirect ones and the TCP fallback) at ProbeInterval, scaled
// by its awareness, so with clustertest's ProbeInterval of 200ms a
// ProbeTimeout of 500ms never gets to wait, and a member that takes
// longer than 200ms to answer is suspected. Five nodes under -race on a
// loaded 2-core machine take that long all the time: they declared one
// another dead over a hundred times in a three-minute run, and then
// did not converge within a minute, or lost writes in the churn.
// Probes every 500ms (no shorter than the timeout) and gossip every
// 200ms (a quarter of the packets to decrypt) keep the members
// together; this test kills nobody, so slower detection costs it
// nothing.
func slowProbes() clustertest.Option {
	return clustertest.WithConfig(func(_ int, cfg *cluster.Config) {
		cfg.ProbeInterval = 500 * time.Millisecond
		cfg.GossipInterval = 200 * time.Millisecond
	})
}
