package lazyctx

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// newDeadline returns a Ctx over parent bounded by timeout from now, ended
// when the test ends.
func newDeadline(t *testing.T, parent context.Context, timeout time.Duration) *Ctx {
	t.Helper()
	c := New(parent, time.Now().Add(timeout))
	t.Cleanup(c.End)
	return c
}

func closed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// The states a request's ctx goes through, each checked against what
// context.WithTimeout does: Err is non-nil exactly when Done is closed.
func TestCtxLikeWithTimeout(t *testing.T) {
	type key struct{}
	// A cancelable parent, as net/http's request ctx is: context.Cause
	// finds the nearest cancelCtx through Value.
	bg, stop := context.WithCancel(context.WithValue(context.Background(), key{}, "v"))
	defer stop()
	for _, tc := range []struct {
		name    string
		timeout time.Duration // negative: the deadline has passed
		steps   func(c *Ctx)
		want    error // Err after the steps; nil: still running
	}{
		{"running", time.Hour, func(*Ctx) {}, nil},
		{"running, armed", time.Hour, func(c *Ctx) { c.Done() }, nil},
		{"deadline passed, unarmed", -time.Second, func(*Ctx) {}, context.DeadlineExceeded},
		{"deadline passed, armed", -time.Second, func(c *Ctx) { c.Done() }, context.DeadlineExceeded},
		{"ended, unarmed", time.Hour, func(c *Ctx) { c.End() }, context.Canceled},
		{"ended, armed", time.Hour, func(c *Ctx) { c.Done(); c.End() }, context.Canceled},
		{"ended after its deadline", -time.Second, func(c *Ctx) { c.End() }, context.DeadlineExceeded},
		{"ended twice", time.Hour, func(c *Ctx) { c.End(); c.End() }, context.Canceled},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newDeadline(t, bg, tc.timeout)
			tc.steps(c)
			checkState(t, c, tc.want)
			if v := c.Value(key{}); v != "v" {
				t.Errorf("Value = %v, want the parent's value", v)
			}
			// A child sees the same, and is cancelled with it.
			child, cancel := context.WithCancel(c)
			defer cancel()
			c.End()
			if !closed(child.Done()) {
				t.Error("a child ctx is still running after end")
			}
			if tc.want == nil {
				tc.want = context.Canceled
			}
			checkState(t, c, tc.want)
		})
	}
}

func checkState(t *testing.T, c *Ctx, want error) {
	t.Helper()
	err, done := c.Err(), closed(c.Done())
	if !errors.Is(err, want) || (err == nil) != (want == nil) {
		t.Errorf("Err = %v, want %v", err, want)
	}
	if done != (want != nil) {
		t.Errorf("Done closed = %v with Err %v", done, err)
	}
	if cause := context.Cause(c); !errors.Is(cause, want) || (cause == nil) != (want == nil) {
		t.Errorf("Cause = %v, want %v", cause, want)
	}
}

func TestCtxDeadline(t *testing.T) {
	before := time.Now()
	c := newDeadline(t, context.Background(), time.Minute)
	d, ok := c.Deadline()
	if !ok || d.Before(before.Add(time.Minute)) || d.After(time.Now().Add(time.Minute)) {
		t.Errorf("Deadline = %v, %v; want a minute from now", d, ok)
	}
	// An earlier deadline of the request's ctx stays the deadline.
	parent, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	pd, _ := parent.Deadline()
	if d, _ := newDeadline(t, parent, time.Hour).Deadline(); !d.Equal(pd) {
		t.Errorf("Deadline = %v, want the parent's %v", d, pd)
	}
}

// An armed ctx fires at its deadline: a store that waits on Done is woken.
func TestCtxFiresWhenArmed(t *testing.T) {
	c := newDeadline(t, context.Background(), 50*time.Millisecond)
	select {
	case <-c.Done():
	case <-time.After(time.Minute):
		t.Fatal("Done not closed a minute after a 50 ms deadline")
	}
	if !errors.Is(c.Err(), context.DeadlineExceeded) {
		t.Errorf("Err = %v, want DeadlineExceeded", c.Err())
	}
}

// The request's ctx ending (the client went away) ends it, armed or not.
func TestCtxFollowsItsParent(t *testing.T) {
	for _, arm := range []bool{false, true} {
		parent, cancel := context.WithCancel(context.Background())
		c := newDeadline(t, parent, time.Hour)
		if arm {
			c.Done()
		}
		cancel()
		if arm {
			<-c.Done() // closed by the parent's cancel, on its own goroutine's time
		}
		checkState(t, c, context.Canceled)
	}
}

// Done, Err and end from several goroutines at once: one real context at
// most, and every caller sees the same end (run with -race).
func TestCtxConcurrent(t *testing.T) {
	for range 50 {
		c := new(Ctx)
		c.Init(context.Background(), time.Now().Add(time.Hour))
		var wg sync.WaitGroup
		for i := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				switch i {
				case 0:
					c.End()
				case 1:
					c.Done()
				default:
					c.Err()
				}
			}()
		}
		wg.Wait()
		checkState(t, c, context.Canceled)
	}
}
