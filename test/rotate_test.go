package test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sessionmesh/sessionmesh/internal/testutil"
	"github.com/sessionmesh/sessionmesh/test/loadcheck/check"
	"github.com/sessionmesh/sessionmesh/test/worker"
)

// TestSecretRotationUnderLoad rotates the cluster secret of three real
// workers under load, without a restart, as the README says to: the
// workers read their secrets from a file (sessions.cluster.secretFile);
// for each step (the new secret added second, then made first, then the
// old one dropped) the file is rewritten and every worker is sent SIGHUP
// in turn, with load running before, between and after. No request
// fails, no acknowledged write or session is lost, and no worker ever
// suspects, declares dead or refuses another.
func TestSecretRotationUnderLoad(t *testing.T) {
	// hold is how long each state of the rotation lasts, under load: a few
	// rounds of the workers' failure detection (a probe every 200ms on
	// loopback), so that a state in which two workers cannot open each
	// other's gossip would have them suspect each other.
	const hold = 2 * time.Second
	file := filepath.Join(t.TempDir(), "cluster-secrets")
	old, next := worker.NewSecret(), worker.NewSecret()
	writeSecrets(t, file, old)
	p := worker.Start(t, 3, worker.Config{Env: worker.ClusterEnv("", "SESSIONS_CLUSTER_SECRET_FILE="+file)})
	waitClusterFormed(t, p, 3)
	l := startLoad(t, p.URLs())
	l.runFor(hold, 200)
	for i, step := range [][]string{{old, next}, {next, old}, {next}} {
		writeSecrets(t, file, step...)
		for _, w := range p.Workers() {
			w.Reload()
			testutil.EventuallyNil(t, 15*time.Second, w.Name()+" to apply step "+fmt.Sprint(i+1), func() error {
				return logCount(w, "cluster: secrets changed", i+1)
			})
			l.runFor(hold, 100)
		}
	}
	l.runFor(hold, 200)
	r := l.finish()
	t.Logf("report:\n%s", r)
	if r.Requests < 1000 || r.AckedWrites == 0 {
		t.Fatalf("only %d requests, %d acked writes: the load did not run", r.Requests, r.AckedWrites)
	}
	if !r.OK() || r.Failures != 0 || r.LostSessions != 0 || r.Unexpected != 0 {
		t.Errorf("failures=%d lost writes=%d lost sessions=%d unexpected=%d unverified=%d; want all 0; errors %v",
			r.Failures, r.LostWrites, r.LostSessions, r.Unexpected, r.Unverified, r.Errors)
	}
	waitClusterFormed(t, p, 3)
	for _, w := range p.Workers() {
		log := readLog(t, w)
		// Declared dead ("Marking ... as failed"), removed; a gossip packet
		// or a peer connection the other side's keys did not open. A
		// suspicion refuted at once ("Suspect ... has failed, no acks
		// received", then "Refuting") is not counted: on a busy machine a
		// late ack raises one whatever the keys, and the member stays.
		for _, bad := range []string{"Marking", "member gone", "Decrypt", "rejected connection"} {
			if strings.Contains(log, bad) {
				t.Errorf("%s logged %q during the rotation:\n%s", w.Name(), bad, linesWith(log, bad))
			}
		}
		for _, s := range []string{old, next} {
			if strings.Contains(log, s) {
				t.Errorf("%s logged a secret", w.Name())
			}
		}
	}
}

// writeSecrets writes the secret file: one base64 secret a line, the
// first the one the workers send with. It is replaced in one rename, as a
// secret manager would, so a worker never reads half of it.
func writeSecrets(t *testing.T, path string, secrets ...string) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte("# cluster secrets, the first encrypts\n"+strings.Join(secrets, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func readLog(t *testing.T, w *worker.Worker) string {
	t.Helper()
	b, err := os.ReadFile(w.LogPath())
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// linesWith returns the lines of log that contain s.
func linesWith(log, s string) string {
	var lines []string
	for _, line := range strings.Split(log, "\n") {
		if strings.Contains(line, s) {
			lines = append(lines, line)
		}
	}
	return strings.Join(lines, "\n")
}

// logCount checks that w's log holds msg at least n times.
func logCount(w *worker.Worker, msg string, n int) error {
	b, err := os.ReadFile(w.LogPath())
	if err != nil {
		return err
	}
	if got := strings.Count(string(b), msg); got < n {
		return fmt.Errorf("%q %d times in %s's log, want %d", msg, got, w.Name(), n)
	}
	return nil
}

// load is a loadcheck run in the background that a test ends when its
// steps are done; the test's cleanup ends it too.
type load struct {
	t        *testing.T
	progress check.Progress
	stop     chan struct{}
	done     chan check.Report
	report   *check.Report
}

func startLoad(t *testing.T, urls []string) *load {
	l := &load{t: t, stop: make(chan struct{}), done: make(chan check.Report, 1)}
	opts := check.Options{URLs: urls, Users: 30, Duration: 10 * time.Minute, Timeout: patient,
		Stop: l.stop, Progress: &l.progress}
	if err := opts.Validate(); err != nil {
		t.Fatal(err)
	}
	go func() {
		r, _ := check.Run(context.Background(), opts) // the only error is invalid Options
		l.done <- r
	}()
	t.Cleanup(func() { l.finish() })
	return l
}

// runFor lets the load run for at least d and n more requests, so that
// every step of a test is taken under load.
func (l *load) runFor(d time.Duration, n int64) {
	l.t.Helper()
	until, want := time.Now().Add(d), l.progress.Requests()+n
	testutil.Eventually(l.t, 2*time.Minute, fmt.Sprintf("%v and %d more requests", d, n), func() bool {
		return l.progress.Requests() >= want && !time.Now().Before(until)
	})
}

// finish stops the users, waits for loadcheck's read-back and returns its
// report; it may be called again.
func (l *load) finish() check.Report {
	if l.report == nil {
		close(l.stop)
		r := <-l.done
		l.report = &r
	}
	return *l.report
}
