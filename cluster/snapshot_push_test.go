package cluster

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/sessionmesh/sessionmesh/session"
)

// snapshotNode is a step node "a" beside "b" (every partition on both,
// N=2) with a snapshot path and a cluster secret, whose calls to b go to
// caller.
func snapshotNode(t *testing.T, path string, caller Caller) *Store {
	t.Helper()
	cfg := DefaultLocalConfig().withDefaults()
	cfg.Logger = discardLogger()
	cfg.Secret = []byte("0123456789abcdef0123456789abcdef")
	cfg.Snapshot = path
	return stepNode(t, cfg, "a", caller, Member{Name: "a", Addr: "a:1"}, Member{Name: "b", Addr: "b:1"})
}

// writeTestSnapshot writes a snapshot at path holding one live session,
// as a node that drained last does, and returns the session's ID.
func writeTestSnapshot(t *testing.T, path string) string {
	t.Helper()
	w := snapshotNode(t, path, nil)
	now := time.Now()
	rec := session.Record{ID: session.NewID(), Values: map[string][]byte{"n": []byte("1")}, Created: now, Touched: now, Idle: now.Add(time.Hour), Version: 3}
	if ok, err := w.merge(&rec); !ok || err != nil {
		t.Fatalf("merge a session into the writer: stored=%v err=%v", ok, err)
	}
	if err := w.writeSnapshot(); err != nil {
		t.Fatal(err)
	}
	return rec.ID
}

func exists(t *testing.T, path string) bool {
	t.Helper()
	_, err := os.Stat(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
	return err == nil
}

// The snapshot file is the only other copy of a restored session until
// the session has reached the other owners of its partition: a start
// keeps the file while that hand-over fails (a crash then loses
// nothing: the next start loads it again) and removes it once it
// succeeded, so it is loaded once.
func TestSnapshotStaysUntilItsSessionsReachTheirOwners(t *testing.T) {
	path := filepath.Join(t.TempDir(), "node.snapshot")
	id := writeTestSnapshot(t, path)

	failing := CallerFunc(func(context.Context, string, uint8, []byte) ([]byte, error) {
		return nil, errors.New("b does not answer")
	})
	a := snapshotNode(t, path, failing)
	if err := a.loadSnapshot(); err != nil {
		t.Fatal(err)
	}
	if _, ok := a.engine.Get(id); !ok {
		t.Fatal("the snapshot's session is not in the engine after the load")
	}
	a.pushRestored(context.Background())
	if !exists(t, path) {
		t.Fatal("the snapshot was removed although its session did not reach the other owner")
	}

	var pushed []string
	answering := CallerFunc(func(_ context.Context, addr string, op uint8, body []byte) ([]byte, error) {
		if op == opMerge {
			pushed = append(pushed, addr)
		}
		return marshalNumber(1), nil
	})
	b := snapshotNode(t, path, answering)
	if err := b.loadSnapshot(); err != nil {
		t.Fatal(err)
	}
	b.pushRestored(context.Background())
	if len(pushed) == 0 {
		t.Fatal("no copy of the snapshot's session was sent to the other owner")
	}
	if exists(t, path) {
		t.Fatal("the snapshot is still there after every session reached its owners; it must be loaded once")
	}
}

// A drain that writes a new snapshot after the start loaded the old one
// keeps the new one: the start's removal is for the file it loaded.
func TestSnapshotWrittenByADrainOutlivesTheLoadedOnesRemoval(t *testing.T) {
	path := filepath.Join(t.TempDir(), "node.snapshot")
	writeTestSnapshot(t, path)
	a := snapshotNode(t, path, CallerFunc(func(context.Context, string, uint8, []byte) ([]byte, error) {
		return marshalNumber(1), nil
	}))
	if err := a.loadSnapshot(); err != nil {
		t.Fatal(err)
	}
	if err := a.writeSnapshot(); err != nil { // the drain: a holds the restored session
		t.Fatal(err)
	}
	a.pushRestored(context.Background())
	if !exists(t, path) {
		t.Fatal("the snapshot a drain wrote was removed as if it were the one loaded at start")
	}
}
