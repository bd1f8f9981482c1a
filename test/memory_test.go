package test

import (
	"context"
	"fmt"
	"testing"

	"github.com/sessionmesh/sessionmesh/test/loadcheck/check"
	"github.com/sessionmesh/sessionmesh/test/worker"
)

// TestMemoryWorkerUnderLoad: one worker with the memory store, read-mostly
// load. Nothing fails and nothing is lost.
func TestMemoryWorkerUnderLoad(t *testing.T) {
	p := worker.Start(t, 1, memoryStore)
	r, err := check.Run(context.Background(), check.Options{URLs: p.URLs(), Users: 20, Duration: *loadFor})
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
	var prog check.Progress
	const users = 10
	done := make(chan check.Report, 1)
	go func() {
		r, err := check.Run(context.Background(), check.Options{URLs: p.URLs(), Users: users,
			Duration: *loadFor, Reads: 1, Writes: 1, Progress: &prog})
		if err != nil {
			t.Error(err)
		}
		done <- r
	}()
	waitFor(t, *loadFor, "acknowledged writes before the kill", func() error {
		if n := prog.AckedWrites(); n < 20*users {
			return fmt.Errorf("%d acknowledged", n)
		}
		return nil
	})
	w.Kill()
	w.Restart()
	r := <-done
	t.Logf("report:\n%s", r)
	if r.OK() || r.LostWrites == 0 || r.LostSessions == 0 {
		t.Fatalf("OK=%v lost writes=%d lost sessions=%d: a restarted memory worker must be reported as losing sessions",
			r.OK(), r.LostWrites, r.LostSessions)
	}
	// The read-back at the end reaches the restarted worker.
	if r.LostSessions > users || r.Unverified != 0 {
		t.Errorf("lost sessions = %d of %d users, unverified = %d", r.LostSessions, users, r.Unverified)
	}
}
