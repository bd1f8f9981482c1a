package cluster_test

import (
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/sessionmesh/sessionmesh/cluster"
	"github.com/sessionmesh/sessionmesh/cluster/clustertest"
	"github.com/sessionmesh/sessionmesh/internal/testutil"
)

// A rotation of the cluster secret while three nodes serve, one node at a
// time through every step (add the new secret second, make it first, drop
// the old): every node keeps serving every session, writes made between
// the steps survive, and no member is ever lost. Each moment of it has
// nodes on two neighbouring steps: [old] with [old new], [old new] with
// [new old], [new old] with [new]. Afterwards a node with only the old
// secret cannot join, and its log says why.
func TestSecretRotationWhileServing(t *testing.T) {
	scenario(t)
	old, next := []byte("the old cluster secret, 32 bytes"), []byte("the new cluster secret, 32 bytes")
	var logs testutil.Buffer
	c := clustertest.New(t, 3, clustertest.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))),
		clustertest.WithConfig(func(_ int, cfg *cluster.Config) { cfg.Secret, cfg.Secrets = nil, [][]byte{old} }))
	c.WaitConverged(converge)
	id := create(t, c.Store(0), map[string]any{"n": 0})
	n := 0
	for _, step := range [][][]byte{{old, next}, {next, old}, {next}} {
		for i := range 3 {
			if err := c.Store(i).SetSecrets(step); err != nil {
				t.Fatalf("node %d: SetSecrets: %v", i, err)
			}
			for j := range 3 { // every node writes, and reads what the others wrote
				n++
				if _, err := c.Store(j).Save(context.Background(), id, set(map[string]any{"n": n})); err != nil {
					t.Fatalf("step %q, node %d changed: save through node %d: %v", cluster.SecretIDs(step), i, j, err)
				}
				for k := range 3 {
					if got, ok := value(t, c.Store(k), id, "n"); !ok || got != n {
						t.Fatalf("step %q, node %d changed: node %d reads %d, %v; want %d", cluster.SecretIDs(step), i, k, got, ok, n)
					}
				}
			}
		}
	}
	c.WaitConverged(converge)
	// Declared dead or removed; a gossip packet the other side's keys did
	// not open. A suspicion refuted at once is not counted: on a busy
	// machine a late ack raises one whatever the keys.
	for _, bad := range []string{"member gone", "Marking", "ecrypt"} {
		if strings.Contains(logs.String(), bad) {
			t.Fatalf("the rotation cost a member (%q in the log):\n%s", bad, logs.String())
		}
	}
	if strings.Contains(logs.String(), string(old)) || strings.Contains(logs.String(), string(next)) {
		t.Fatal("a secret is in the log")
	}

	cfg := cluster.DefaultLocalConfig()
	cfg.Name, cfg.Secrets, cfg.Join = "stale", [][]byte{old}, []string{c.Seed()}
	var staleLog testutil.Buffer
	cfg.Logger = slog.New(slog.NewTextHandler(&staleLog, nil))
	stale, err := cluster.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer stale.Close()
	testutil.Eventually(t, converge, "the node with the dropped secret says why it cannot join", func() bool {
		return strings.Contains(staleLog.String(), "cluster's secret")
	})
	if _, ok := c.Store(0).Table().Member(stale.Name()); ok {
		t.Fatal("a node with the dropped secret became a member")
	}
}

// SetSecrets refuses a list Config.Validate would refuse, naming the
// entry, and keeps the secrets the node had.
func TestSetSecretsRefusesABadList(t *testing.T) {
	c := clustertest.New(t, 1)
	c.WaitConverged(converge)
	id := create(t, c.Store(0), map[string]any{"n": 1})
	good := []byte("a good cluster secret, 32 bytes.")
	for want, list := range map[string][][]byte{
		"Secrets[1] must be at least 16 bytes":     {good, []byte("short")},
		"Secrets[1] is the same secret as entry 0": {good, good},
		"Secrets must hold at most":                {good, good[1:], good[2:], good[3:], good[4:]},
	} {
		if err := c.Store(0).SetSecrets(list); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("SetSecrets: %v; want an error saying %q", err, want)
		}
	}
	if n, ok := value(t, c.Store(0), id, "n"); !ok || n != 1 {
		t.Fatalf("after refused lists the node reads %d, %v", n, ok)
	}
}
