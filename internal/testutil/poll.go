package testutil

import (
	"errors"
	"testing"
	"time"
)

// PollEvery is how often Poll, Eventually and EventuallyNil check their
// condition: often enough that a test waits hardly longer than the
// condition takes, seldom enough that the polling costs nothing.
const PollEvery = 10 * time.Millisecond

// Poll checks cond every PollEvery until it returns true or timeout passes,
// and reports whether cond held. It is for waiting on what no injected
// clock can move: another goroutine, a socket, another process.
func Poll(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(PollEvery)
	}
	return true
}

// Eventually waits like Poll until cond returns true, and fails the test,
// naming what it waited for, if timeout passes first.
func Eventually(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	EventuallyNil(t, timeout, what, func() error {
		if cond() {
			return nil
		}
		return errNotYet
	})
}

var errNotYet = errors.New("the condition does not hold")

// EventuallyNil waits like Poll until cond returns nil, and fails the test
// with cond's last error if timeout passes first: cond says why it does not
// hold yet.
func EventuallyNil(t testing.TB, timeout time.Duration, what string, cond func() error) {
	t.Helper()
	var last error
	if !Poll(timeout, func() bool { last = cond(); return last == nil }) {
		t.Fatalf("timed out after %v waiting for %s: %v", timeout, what, last)
	}
}
