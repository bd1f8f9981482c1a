package test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/sessionmesh/sessionmesh/internal/testutil"
	"github.com/sessionmesh/sessionmesh/test/loadcheck/check"
	"github.com/sessionmesh/sessionmesh/test/worker"
)

// TestMemoryWorkerUnderLoad: one worker with the memory store, read-mostly
// load. Nothing fails and nothing is lost.
func TestMemoryWorkerUnderLoad(t *testing.T) {
	p := worker.Start(t, 1, memoryStore)
	r, err := check.Run(context.Background(), check.Options{URLs: p.URLs(), Users: 20, Duration: *loadFor,
		Timeout: patient})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("report:\n%s", r)
	if r.Requests < 100 || r.AckedWrites == 0 {
		t.Fatalf("only %d requests, %d acked writes: the load did not run", r.Requests, r.AckedWrites)
	}
	if !r.OK() || r.Failures != 0 || r.LostWrites != 0 || r.LostSessions != 0 || r.Unexpected != 0 {
		t.Errorf("failures=%d lost writes=%d lost sessions=%d unexpected=%d unverified=%d; want all 0",
			r.Failures, r.LostWrites, r.LostSessions, r.Unexpected, r.Unverified)
	}
	if r.ServedBy["w0"] != r.Requests+r.Users {
		t.Errorf("served by %v, want every answer from w0", r.ServedBy)
	}
}

// TestMemoryWorkerRestartLosesSessions proves the checker can fail against
// real processes: a memory-store worker killed and restarted under load
// forgets every session, and the report says so.
func TestMemoryWorkerRestartLosesSessions(t *testing.T) {
	p := worker.Start(t, 1, memoryStore)
	w := p.Workers()[0]
	const users = 10
	var prog check.Progress
	stop := make(chan struct{})
	done := make(chan check.Report, 1)
	go func() {
		r, err := check.Run(context.Background(), check.Options{URLs: p.URLs(), Users: users,
			Duration: time.Minute, Stop: stop, Reads: 1, Writes: 1, Progress: &prog, Timeout: patient})
		if err != nil {
			t.Error(err)
		}
		done <- r
	}()
	waitAcked(t, &prog, 20*users, "before the kill")
	w.Kill()
	w.Restart()
	waitAcked(t, &prog, prog.AckedWrites()+users, "after the restart")
	close(stop)
	r := <-done
	t.Logf("report:\n%s", r)
	if r.OK() || r.LostWrites == 0 || r.LostSessions == 0 {
		t.Fatalf("OK=%v lost writes=%d lost sessions=%d: a restarted memory worker must be reported as losing sessions",
			r.OK(), r.LostWrites, r.LostSessions)
	}
	if r.LostSessions > users || r.Unverified != 0 || r.Unexpected != 0 {
		t.Errorf("lost sessions = %d of %d users, unverified = %d, unexpected = %d",
			r.LostSessions, users, r.Unverified, r.Unexpected)
	}
}

// waitAcked waits until a running load has n acknowledged writes.
func waitAcked(t *testing.T, p *check.Progress, n int64, what string) {
	t.Helper()
	testutil.EventuallyNil(t, 30*time.Second, fmt.Sprintf("%d acknowledged writes %s", n, what), func() error {
		if got := p.AckedWrites(); got < n {
			return fmt.Errorf("%d acknowledged", got)
		}
		return nil
	})
}
