package cluster_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionmesh/sessionmesh/cluster"
	"github.com/sessionmesh/sessionmesh/internal/servertest"
	"github.com/sessionmesh/sessionmesh/internal/testutil"
	"github.com/sessionmesh/sessionmesh/session"
)

// snapWorkers are cluster nodes that can be stopped and started again on
// the same gossip addresses and snapshot files, as workers restarted by
// their supervisor are. Their clock is the real one plus an offset a test
// moves forward, so sessions expire while the workers are down.
type snapWorkers struct {
	t      *testing.T
	secret []byte
	dir    string
	addrs  []string // gossip
	peers  []string // peer transport
	nodes  []*cluster.Store
	offset atomic.Int64
	logs   testutil.Buffer // every worker's log, shown when the test fails
}

func newSnapWorkers(t *testing.T, n int) *snapWorkers {
	w := &snapWorkers{t: t, secret: make([]byte, 32), dir: t.TempDir(), nodes: make([]*cluster.Store, n)}
	rand.Read(w.secret)
	for range n {
		w.addrs = append(w.addrs, servertest.FreeGossipAddr(t))
		w.peers = append(w.peers, servertest.FreeGossipAddr(t))
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Log(w.logs.String())
		}
		for _, s := range w.nodes {
			if s != nil {
				s.Shutdown()
			}
		}
	})
	return w
}

func (w *snapWorkers) now() time.Time { return time.Now().Add(time.Duration(w.offset.Load())) }

func (w *snapWorkers) path(i int) string {
	return filepath.Join(w.dir, fmt.Sprintf("worker%d.snapshot", i))
}

// start starts worker i on its addresses; its seeds are every worker's.
func (w *snapWorkers) start(i int) *cluster.Store {
	w.t.Helper()
	cfg := cluster.DefaultLocalConfig()
	cfg.Name = fmt.Sprintf("worker%d", i)
	cfg.Bind, cfg.PeerBind = w.addrs[i], w.peers[i]
	cfg.Join = w.addrs
	cfg.Secret = w.secret
	cfg.Snapshot = w.path(i)
	cfg.Now = w.now
	cfg.Logger = slog.New(slog.NewTextHandler(&w.logs, nil)).With("worker", i)
	s, err := cluster.New(cfg)
	if err != nil {
		w.t.Fatalf("start worker %d: %v", i, err)
	}
	w.nodes[i] = s
	return s
}

// startAll starts the workers and waits until every one is ready.
func (w *snapWorkers) startAll(which ...int) {
	w.t.Helper()
	for _, i := range which {
		w.start(i)
	}
	testutil.Eventually(w.t, converge, fmt.Sprintf("workers %v ready", which), func() bool {
		for _, i := range which {
			if !w.nodes[i].Ready() {
				return false
			}
		}
		return true
	})
}

// stopAll closes the workers at once (each drains, as on SIGTERM).
func (w *snapWorkers) stopAll(which ...int) {
	w.t.Helper()
	var wg sync.WaitGroup
	for _, i := range which {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := w.nodes[i].Close(); err != nil {
				w.t.Errorf("close worker %d: %v", i, err)
			}
		}()
	}
	wg.Wait()
	for _, i := range which {
		w.nodes[i] = nil
	}
}

// Every worker stops (drains at once, as on SIGTERM to all of them) and
// starts again: once they are ready, every session is back with its
// values, on every worker, and one that expired while they were down is
// not. The snapshot files are sealed, private to the user, and gone once
// loaded.
func TestSnapshotKeepsSessionsWhenEveryWorkerStops(t *testing.T) {
	scenario(t)
	w := newSnapWorkers(t, 3)
	w.startAll(0, 1, 2)
	ids := make([]string, 60)
	for i := range ids {
		ids[i] = create(t, w.nodes[i%3], map[string]any{"n": i, "marker": "plain-text-marker"})
	}
	short := session.Patch{Set: map[string][]byte{"n": []byte("1")}, Now: time.Now(), Idle: time.Minute, NewID: session.NewID()}
	shortID, err := w.nodes[0].Save(context.Background(), "", short)
	if err != nil {
		t.Fatal(err)
	}

	w.stopAll(0, 1, 2)
	written := 0
	for i := range 3 {
		data, err := os.ReadFile(w.path(i))
		if errors.Is(err, fs.ErrNotExist) {
			continue // it handed everything to a worker that stopped later
		}
		if err != nil {
			t.Fatal(err)
		}
		written++
		if fi, _ := os.Stat(w.path(i)); fi.Mode().Perm() != 0o600 {
			t.Errorf("snapshot %d has mode %v; want 0600", i, fi.Mode().Perm())
		}
		if bytes.Contains(data, []byte("plain-text-marker")) {
			t.Errorf("snapshot %d holds session values in the clear", i)
		}
	}
	if written == 0 {
		t.Fatal("no worker wrote a snapshot")
	}

	w.offset.Add(int64(2 * time.Minute)) // the short session expires while they are down
	w.startAll(0, 1, 2)
	for i, id := range ids {
		for j := range 3 {
			if n, ok := value(t, w.nodes[j], id, "n"); !ok || n != i {
				t.Fatalf("session %d read on worker %d after the restart: n=%d found=%v; want %d", i, j, n, ok, i)
			}
		}
	}
	if _, found, err := w.nodes[1].Load(context.Background(), shortID); found || err != nil {
		t.Fatalf("the session that expired while the workers were down: found=%v err=%v; want gone", found, err)
	}
	for i := range 3 {
		if _, err := os.Stat(w.path(i)); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("snapshot %d still exists after it was loaded (err %v); it must be loaded once", i, err)
		}
	}
}

// An old snapshot brings no deleted session back. Two workers drained
// last and both kept the same sessions (the file is copied, which a drain
// of both at once does too); one starts with the others and the session
// X is deleted; the other starts later, while they serve, and loads the
// older copy of X: the tombstone of the delete wins by version. Once the
// tombstone has expired, so has the snapshot's copy (a tombstone lives
// until the deleted session's deadline), and the load drops it.
func TestSnapshotBringsNoDeletedSessionBack(t *testing.T) {
	scenario(t)
	w := newSnapWorkers(t, 3)
	w.startAll(0, 1, 2)
	ctx := context.Background()
	save := func(idle time.Duration) string {
		p := session.Patch{Set: map[string][]byte{"n": []byte("7")}, Now: time.Now(), Idle: idle, NewID: session.NewID()}
		id, err := w.nodes[0].Save(ctx, "", p)
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	x, y := save(time.Hour), save(3*time.Hour)
	w.stopAll(0)
	w.stopAll(1)
	w.stopAll(2) // the last: it keeps everything
	old, err := os.ReadFile(w.path(2))
	if err != nil {
		t.Fatalf("the last worker wrote no snapshot: %v", err)
	}

	w.startAll(0, 2)
	if err := w.nodes[0].Delete(ctx, x); err != nil {
		t.Fatal(err)
	}
	restart1 := func(when string) {
		t.Helper()
		if err := os.WriteFile(w.path(1), old, 0o600); err != nil {
			t.Fatal(err)
		}
		w.startAll(1)
		for i := range 3 {
			if _, found, err := w.nodes[i].Load(ctx, x); found || err != nil {
				t.Fatalf("%s: worker %d reads the deleted session: found=%v err=%v", when, i, found, err)
			}
			if n, ok := value(t, w.nodes[i], y, "n"); !ok || n != 7 {
				t.Fatalf("%s: worker %d reads the kept session: n=%d found=%v", when, i, n, ok)
			}
		}
	}
	restart1("while the tombstone lives")
	w.stopAll(1)
	w.offset.Add(int64(2 * time.Hour)) // x and its tombstone expire; y lives
	restart1("after the tombstone expired")
}

// A snapshot that does not open (damaged, or sealed with a secret the
// node no longer has) stops the start with an error naming the file,
// rather than starting without the sessions in silence; a Snapshot in a
// directory that does not exist fails Validate.
func TestSnapshotThatDoesNotLoadFailsTheStart(t *testing.T) {
	dir := t.TempDir()
	cfg := cluster.DefaultLocalConfig()
	cfg.Secret = bytes.Repeat([]byte("s"), 32)
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg.Snapshot = filepath.Join(dir, "missing", "snap")
	var fe *cluster.FieldError
	if err := cfg.Validate(); !errors.As(err, &fe) || fe.Field != "Snapshot" {
		t.Fatalf("Validate with a snapshot in a missing directory: %v; want a FieldError for Snapshot", err)
	}
	cfg.Snapshot = filepath.Join(dir, "snap")
	for name, data := range map[string]string{
		"damaged":      "sessionmesh snapshot sealed v1\nxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
		"not sealed":   "sessionmesh snapshot plain v1\n\x00",
		"not snapshot": "hello",
	} {
		if err := os.WriteFile(cfg.Snapshot, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
		s, err := cluster.New(cfg)
		if err == nil {
			s.Shutdown()
			t.Fatalf("%s: New started", name)
		}
		if !strings.Contains(err.Error(), cfg.Snapshot) {
			t.Fatalf("%s: %v; want the error to name the file", name, err)
		}
		if _, err := os.Stat(cfg.Snapshot); err != nil {
			t.Fatalf("%s: the snapshot that did not load is gone: %v", name, err)
		}
	}
}

// A snapshot is sealed with the secret the node runs with when it
// drains, also after a rotation (SetSecrets), so a worker restarted with
// the rotated list opens it; a list without that secret does not.
func TestSnapshotFollowsTheSecretRotation(t *testing.T) {
	dir := t.TempDir()
	oldSecret, newSecret := bytes.Repeat([]byte("o"), 32), bytes.Repeat([]byte("n"), 32)
	node := func(secret []byte) (*cluster.Store, error) {
		cfg := cluster.DefaultLocalConfig()
		cfg.Secret = secret
		cfg.Snapshot = filepath.Join(dir, "snap")
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
		return cluster.New(cfg)
	}
	s, err := node(oldSecret)
	if err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, converge, "a node of its own ready", s.Ready)
	id := create(t, s, map[string]any{"n": 3})
	if err := s.SetSecrets([][]byte{newSecret}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := node(oldSecret); err == nil || !strings.Contains(err.Error(), "none of this node's cluster secrets opens it") {
		t.Fatalf("a node with the old secret only: %v; want the snapshot refused", err)
	}
	s, err = node(newSecret)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	testutil.Eventually(t, converge, "the restarted node ready", s.Ready)
	if n, ok := value(t, s, id, "n"); !ok || n != 3 {
		t.Fatalf("after the restart with the rotated secret: n=%d found=%v; want 3", n, ok)
	}
}

// Without a secret (Insecure, loopback only) the snapshot is written in
// the clear, still 0600, and loads the same way.
func TestSnapshotWithoutSecret(t *testing.T) {
	cfg := cluster.DefaultLocalConfig()
	cfg.Insecure = true
	cfg.Snapshot = filepath.Join(t.TempDir(), "snap")
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	s, err := cluster.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, converge, "a node of its own ready", s.Ready)
	id := create(t, s, map[string]any{"n": 4})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if data, err := os.ReadFile(cfg.Snapshot); err != nil || !bytes.HasPrefix(data, []byte("sessionmesh snapshot plain v1\n")) {
		t.Fatalf("snapshot without a secret: err %v; want a file in the clear", err)
	}
	if s, err = cluster.New(cfg); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	testutil.Eventually(t, converge, "the restarted node ready", s.Ready)
	if n, ok := value(t, s, id, "n"); !ok || n != 4 {
		t.Fatalf("after the restart: n=%d found=%v; want 4", n, ok)
	}
}
