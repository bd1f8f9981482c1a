package testutil

import (
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestPoll: Poll returns true once the condition holds, and false when it
// never does, no sooner than the timeout.
func TestPoll(t *testing.T) {
	var calls atomic.Int32
	if !Poll(5*time.Second, func() bool { return calls.Add(1) == 3 }) {
		t.Fatal("Poll = false; want true once the condition holds")
	}
	if n := calls.Load(); n != 3 {
		t.Fatalf("Poll checked the condition %d times; want 3 (it stops once it holds)", n)
	}
	start := time.Now()
	if Poll(30*time.Millisecond, func() bool { return false }) {
		t.Fatal("Poll = true for a condition that never holds")
	}
	if took := time.Since(start); took < 30*time.Millisecond {
		t.Fatalf("Poll gave up after %v; want no sooner than its 30ms timeout", took)
	}
}

// TestEventuallyNilSaysWhy: a condition that never holds fails the test
// with what was awaited and the condition's last error.
func TestEventuallyNilSaysWhy(t *testing.T) {
	n := 0
	msg := FatalMessage(t, func(tb testing.TB) {
		EventuallyNil(tb, 30*time.Millisecond, "the answer", func() error { n++; return fmt.Errorf("try %d failed", n) })
	})
	if !strings.Contains(msg, "waiting for the answer") || !strings.Contains(msg, fmt.Sprintf("try %d failed", n)) {
		t.Fatalf("failure %q; want it to name what was awaited and the last error (try %d)", msg, n)
	}
	if msg := FatalMessage(t, func(tb testing.TB) { Eventually(tb, time.Second, "nothing", func() bool { return true }) }); msg != "" {
		t.Fatalf("Eventually failed on a condition that holds: %s", msg)
	}
}
