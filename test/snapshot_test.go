package test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/sessionmesh/sessionmesh/test/worker"
)

// TestSnapshotEveryWorkerStopsAndStarts: three cluster workers, each with
// a snapshot file, serve users; then every worker stops gracefully
// (SIGTERM, one after the other, as a deploy that stops them all does)
// and starts again. Once they are ready, every user's counter is back,
// on every worker. The last worker to stop held every session and wrote
// them; the first two to start came up empty, and the last one brought
// the sessions back before it reported ready.
func TestSnapshotEveryWorkerStopsAndStarts(t *testing.T) {
	dir := t.TempDir()
	env := worker.ClusterEnv(worker.NewSecret())
	p := worker.Start(t, 3, worker.Config{Env: func(s worker.Spec) []string {
		return append(env(s), "SESSIONS_CLUSTER_SNAPSHOT="+filepath.Join(dir, s.Name+".snapshot"))
	}})
	waitClusterFormed(t, p, 3)
	urls := p.URLs()
	users := make([]*browser, 12)
	for i := range users {
		users[i] = newBrowser(t)
		for range i + 1 { // user i's counter ends at i+1
			users[i].counter(urls[i%len(urls)] + "/")
		}
	}

	for _, w := range p.Workers() {
		w.Term()
	}
	last := p.Workers()[2]
	fi, err := os.Stat(filepath.Join(dir, last.Name()+".snapshot"))
	if err != nil {
		t.Fatalf("the last worker to stop wrote no snapshot: %v", err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("snapshot mode %v; want 0600", fi.Mode().Perm())
	}

	for _, w := range p.Workers() {
		w.Restart()
	}
	waitClusterFormed(t, p, 3)
	for i, u := range users {
		for _, url := range urls {
			if n, by := u.counter(url + "/peek"); n != i+1 {
				t.Errorf("user %d after every worker restarted: GET %s/peek (served by %s) = %d, want %d", i, url, by, n, i+1)
			}
		}
	}
	for _, w := range p.Workers() {
		if _, err := os.Stat(filepath.Join(dir, w.Name()+".snapshot")); !os.IsNotExist(err) {
			t.Errorf("%s's snapshot is still there after it started (err %v): it must be loaded once", w.Name(), err)
		}
	}
}
