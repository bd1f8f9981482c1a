package cluster_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionmesh/sessionmesh/cluster"
	"github.com/sessionmesh/sessionmesh/cluster/clustertest"
	"github.com/sessionmesh/sessionmesh/internal/testutil"
	"github.com/sessionmesh/sessionmesh/session"
)

// converge is the budget of every wait that ends on an event (a cluster
// converging, a condition turning true): such a wait returns as soon as
// the event happens, so a long budget costs nothing when things work, and
// a machine loaded with other work (two cores running the race detector
// and other test binaries: heartbeats late, pause checks, re-pulls)
// delays the test rather than failing it.
const converge = time.Minute

// A write acknowledged by the primary is on N nodes, so killing the
// primary right after the ack loses nothing: the survivors serve it, both
// before and after they notice the death.
func TestKillPrimaryAfterAcknowledgedWrite(t *testing.T) {
	scenario(t)
	c := clustertest.New(t, 3)
	c.WaitConverged(converge)
	for round := 0; round < 3; round++ {
		via := c.Alive()[round%len(c.Alive())]
		id := create(t, c.Store(via), map[string]any{"n": round})
		primary := c.Owners(via, id)[0]
		c.Kill(primary)
		for _, i := range c.Alive() {
			if n, ok := value(t, c.Store(i), id, "n"); !ok || n != round {
				t.Fatalf("round %d: node %d reads n=%d found=%v after the primary died; want %d", round, i, n, ok, round)
			}
		}
		if len(c.Alive()) == 1 {
			break
		}
		c.WaitConverged(converge)
		for _, i := range c.Alive() {
			if n, ok := value(t, c.Store(i), id, "n"); !ok || n != round {
				t.Fatalf("round %d: node %d reads n=%d found=%v after convergence; want %d", round, i, n, ok, round)
			}
		}
	}
}

// writer increments a counter in its own session through random live
// nodes and records every acknowledged value, and the last one it tried:
// a save that failed (a timeout, a node killed mid-call) may or may not
// have landed, so the session holds the last acknowledged value, or the
// one tried after it.
type writer struct {
	id    string
	acked atomic.Int64
	tried atomic.Int64
}

func (w *writer) run(t *testing.T, c *clustertest.Cluster, seed int, stop <-chan struct{}) {
	ctx := context.Background()
	for n, i := int(w.acked.Load())+1, seed; ; i++ {
		select {
		case <-stop:
			return
		default:
		}
		alive := c.Alive()
		st := c.Store(alive[i%len(alive)])
		w.tried.Store(int64(n))
		if _, err := st.Save(ctx, w.id, set(map[string]any{"n": n})); err == nil {
			w.acked.Store(int64(n))
			n++
		} else if errors.Is(err, session.ErrNotFound) {
			t.Errorf("session %s lost at n=%d: %v", w.id, n, err)
			return
		}
	}
}

// startWriters creates n sessions, each with a writer (writer.run) that
// saves through every live node in turn, and returns them with a func
// that stops the writers and waits for them.
func startWriters(t *testing.T, c *clustertest.Cluster, n int) ([]*writer, func()) {
	writers := make([]*writer, n)
	for i := range writers {
		writers[i] = &writer{id: create(t, c.Store(i%3), map[string]any{"n": 0})}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	for i, w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.run(t, c, i, done)
		}()
	}
	return writers, func() {
		close(done)
		wg.Wait()
	}
}

// Killing any one of three nodes while writers run loses no acknowledged
// write: afterwards every survivor reads every session's last acked value.
func TestKillOneOfThreeWhileWritersRun(t *testing.T) {
	scenario(t)
	for victim := 0; victim < 3; victim++ {
		t.Run(fmt.Sprintf("kill%d", victim), func(t *testing.T) {
			c := clustertest.New(t, 3)
			c.WaitConverged(converge)
			writers, stop := startWriters(t, c, 12)
			testutil.Eventually(t, converge, "writers make progress", func() bool { return writers[0].acked.Load() > 20 })
			c.Kill(victim)
			before := writers[0].acked.Load()
			c.WaitConverged(converge)
			testutil.Eventually(t, converge, "writers make progress after the kill", func() bool { return writers[0].acked.Load() > before+20 })
			stop()
			for _, w := range writers {
				want := w.acked.Load()
				for _, i := range c.Alive() {
					n, ok := value(t, c.Store(i), w.id, "n")
					if !ok || int64(n) < want || int64(n) > w.tried.Load() {
						t.Errorf("node %d reads n=%d found=%v for %s; last acknowledged %d, last tried %d", i, n, ok, w.id, want, w.tried.Load())
					}
					if i == c.Alive()[0] {
						want = int64(n) // every node reads the same, whichever it is
					}
				}
			}
		})
	}
}

// writeKeys has each node of keys set its key of session id to 1, 2, ...
// rounds, all nodes at the same time; with readBack each reads its write
// back through the next node after every acknowledgement.
func writeKeys(t *testing.T, c *clustertest.Cluster, id string, keys map[int]string, rounds int, readBack bool) {
	var wg sync.WaitGroup
	for node, key := range keys {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 1; n <= rounds; n++ {
				if _, err := c.Store(node).Save(context.Background(), id, set(map[string]any{key: n})); err != nil {
					t.Errorf("node %d set %s=%d: %v", node, key, n, err)
					return
				}
				if !readBack {
					continue
				}
				reader := (node + 1) % c.Len()
				rec, found, err := c.Store(reader).Load(context.Background(), id)
				if err != nil { // not value: t.Fatal belongs to the test's goroutine
					t.Errorf("node %d load after node %d's %s=%d was acknowledged: %v", reader, node, key, n, err)
					return
				}
				if got, ok := intValue(t, rec, found, key); !ok || got < n {
					t.Errorf("node %d read %s=%d found=%v after node %d's %s=%d was acknowledged", reader, key, got, ok, node, key, n)
					return
				}
			}
		}()
	}
	wg.Wait()
}

// Two nodes patch different keys of one session at the same time: the
// primary applies both patches under the session's lock, so both keys
// survive with their last values.
func TestConcurrentKeysFromTwoNodes(t *testing.T) {
	c := clustertest.New(t, 3)
	c.WaitConverged(converge)
	id := create(t, c.Store(0), map[string]any{"a": 0, "b": 0})
	const rounds = 100
	writeKeys(t, c, id, map[int]string{1: "a", 2: "b"}, rounds, false)
	for i := 0; i < 3; i++ {
		for _, key := range []string{"a", "b"} {
			if n, ok := value(t, c.Store(i), id, key); !ok || n != rounds {
				t.Errorf("node %d reads %s=%d found=%v; want %d", i, key, n, ok, rounds)
			}
		}
	}
}

// A member that memberlist declares dead but that answers every peer call
// (gossip lost, as on a busy machine whose probes miss their deadline) is
// kept in every table: dropping it would make two nodes primary of its
// partitions, and writers on both would lose each other's writes. Once
// gossip flows again, the verdict is refuted.
func TestMemberDeclaredDeadThatAnswersIsKept(t *testing.T) {
	scenario(t)
	var logs testutil.Buffer
	c := clustertest.New(t, 3, clustertest.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	c.WaitConverged(converge)
	writers, stop := startWriters(t, c, 6)
	for _, i := range []int{0, 1} {
		c.BlockGossip(i, 2)
		c.BlockGossip(2, i)
	}
	testutil.Eventually(t, converge, "memberlist declares a live member dead, and its grace ends", func() bool {
		log := logs.String()
		return strings.Contains(log, "suspect timeout reached") &&
			(strings.Contains(log, "cluster: member declared dead still answers; kept") || strings.Contains(log, "cluster: member gone"))
	})
	before := writers[0].acked.Load()
	testutil.Eventually(t, converge, "writers make progress", func() bool { return writers[0].acked.Load() > before+20 })
	for i := range 3 {
		if n := len(c.Store(i).Table().Members()); n != 3 {
			t.Errorf("node %d's table has %d members while gossip is cut; want all 3 (they all answer)", i, n)
		}
	}
	c.Heal()
	testutil.Eventually(t, converge, "the verdict is refuted", func() bool {
		return strings.Contains(logs.String(), "cluster: member declared dead is alive again; kept")
	})
	stop()
	c.WaitConverged(converge)
	for _, w := range writers {
		for i := range 3 {
			if n, ok := settledValue(t, c.Store(i), w.id, "n"); !ok || int64(n) < w.acked.Load() || int64(n) > w.tried.Load() {
				t.Errorf("node %d reads n=%d found=%v for %s; last acknowledged %d, last tried %d", i, n, ok, w.id, w.acked.Load(), w.tried.Load())
			}
		}
	}
}

// A node that cannot reach a session's primary (its peer calls to it
// fail at once: a firewall rule, a route gone one way) writes as acting
// primary, and the copy the primary missed goes to the spare as a hint.
// The primary still serves everyone else: it must not serve the session
// without that write. (The spare hands the copy on within a quarter of
// CallTimeout: patient here, for a loaded machine.)
func TestOneWayBlockToThePrimaryServesNoStaleRead(t *testing.T) {
	c := clustertest.New(t, 3, clustertest.WithConfig(func(_ int, cfg *cluster.Config) { cfg.CallTimeout = 4 * time.Second }))
	c.WaitReplicated(converge)
	id := sessionOn(t, c, 1, 2)
	c.BlockPeer(2, 1) // the backup's calls to the primary fail; the others reach both
	for n := 2; n < 10; n++ {
		saveN(t, c.Store(2), id, n)
		for _, i := range []int{0, 1} {
			if got, _ := value(t, c.Store(i), id, "n"); got != n {
				t.Fatalf("node %d read n=%d after n=%d was acknowledged through the backup cut off from the primary", i, got, n)
			}
		}
	}
}

// Writers of one session through the node cut off from the primary and
// through the others, at the same time: the cut-off node has its writes
// relayed to the primary instead of writing as acting primary beside it,
// so every key keeps its last acknowledged value (two writers given the
// same version would lose one side's writes).
func TestOneWayBlockToThePrimaryLosesNoConcurrentWrite(t *testing.T) {
	c := clustertest.New(t, 3, clustertest.WithConfig(func(_ int, cfg *cluster.Config) { cfg.CallTimeout = 4 * time.Second }))
	c.WaitReplicated(converge)
	id := sessionOn(t, c, 1, 2)
	c.BlockPeer(2, 1)
	const rounds = 100
	writeKeys(t, c, id, map[int]string{2: "a", 0: "b", 1: "c"}, rounds, true)
	c.Heal()
	for i := range 3 {
		for _, key := range []string{"a", "b", "c"} {
			if n, ok := settledValue(t, c.Store(i), id, key); !ok || n != rounds {
				t.Errorf("node %d reads %s=%d found=%v; want %d, the last acknowledged", i, key, n, ok, rounds)
			}
		}
		// One primary ordered every write: no copy holds a write another
		// lacks, so a repair that compares them finds no conflict.
		if n := c.Store(i).Stats().Conflicts; n != 0 {
			t.Errorf("node %d counted %d conflicts; want 0 (every write went through the primary)", i, n)
		}
	}
}
