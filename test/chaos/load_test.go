package chaos

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/sessionmesh/sessionmesh/test/loadcheck/check"
)

const (
	// patient is the per-attempt timeout when no worker is frozen: on a
	// loaded two-core machine an answer can take seconds, and that is
	// slowness, not a failed request (a timed-out attempt is retried on
	// the next worker, and a write may then apply twice).
	patient = 15 * time.Second

	// maxRun bounds a load run; Stop ends it long before.
	maxRun = 10 * time.Minute
)

// load is a loadcheck run in the background: virtual users with their own
// cookie jars, a read-mostly mix, through check's round-robin balancer
// that retries a failed attempt on the next worker.
type load struct {
	t        *testing.T
	progress check.Progress
	stop     chan struct{}
	done     chan check.Report
	endOnce  sync.Once
	report   check.Report // set by end
}

// startLoad starts users against the worker URLs, each attempt bounded by
// timeout. The run ends at finish (or when the test ends).
func startLoad(t *testing.T, urls []string, users int, timeout time.Duration) *load {
	t.Helper()
	l := &load{t: t, stop: make(chan struct{}), done: make(chan check.Report, 1)}
	opts := check.Options{URLs: urls, Users: users, Duration: maxRun, Timeout: timeout,
		Stop: l.stop, Progress: &l.progress}
	if err := opts.Validate(); err != nil {
		t.Fatal(err)
	}
	go func() {
		r, _ := check.Run(context.Background(), opts) // the only error is invalid Options
		l.done <- r
	}()
	t.Cleanup(func() { l.end() })
	return l
}

// runFor lets the load run for at least d and at least minRequests more
// requests, so every phase of a test is seen under load. It fails the test
// when the users get no answer at all for a minute.
func (l *load) runFor(d time.Duration, minRequests int64) {
	l.t.Helper()
	start, from := time.Now(), l.progress.Requests()
	last, lastAt := from, start
	for time.Since(start) < d || l.progress.Requests()-from < minRequests {
		if n := l.progress.Requests(); n != last {
			last, lastAt = n, time.Now()
		}
		if time.Since(lastAt) > time.Minute {
			l.t.Fatalf("load: no request finished for a minute (%d done, %d failed)", last, l.progress.Failures())
		}
		time.Sleep(20 * time.Millisecond) // polling the load's progress
	}
}

// finish ends the load, lets loadcheck read every session back, and
// returns its report, logged for the reader of -v output.
func (l *load) finish(name string) check.Report {
	l.t.Helper()
	r := l.end()
	l.t.Logf("loadcheck %s:\n%s", name, r)
	return r
}

// end stops the users and waits for the read-back; it is idempotent, so
// the test's cleanup can call it after a failed test too.
func (l *load) end() check.Report {
	l.endOnce.Do(func() {
		close(l.stop)
		l.report = <-l.done
	})
	return l.report
}

// expect fails the test unless the run proves no acknowledged write and no
// session was lost, and at most maxFailed of its requests failed (0 for a
// planned change, under 0.5% for a crash).
func expect(t *testing.T, name string, r check.Report, maxFailed float64) {
	t.Helper()
	if r.Requests < 100 || r.AckedWrites == 0 {
		t.Errorf("%s: only %d requests and %d acknowledged writes: the load did not run", name, r.Requests, r.AckedWrites)
	}
	if !r.OK() || r.LostSessions != 0 {
		t.Errorf("%s: %d of %d acknowledged writes lost (%.3f%%), %d sessions lost, %d not read back; want none",
			name, r.LostWrites, r.AckedWrites, r.LostWritePercent, r.LostSessions, r.Unverified)
	}
	failed := float64(r.Failures) / float64(max(r.Requests, 1))
	if r.Failures > 0 && failed >= maxFailed {
		want := "none"
		if maxFailed > 0 {
			want = fmt.Sprintf("under %.1f%%", 100*maxFailed)
		}
		t.Errorf("%s: %d of %d requests failed (%.3f%%), want %s; errors %v",
			name, r.Failures, r.Requests, 100*failed, want, r.Errors)
	}
}
