package httpmw

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// deadlineCtx is the request's ctx bounded by WithTimeout, made without a
// timer until something waits on it. context.WithTimeout arms a runtime
// timer, registers a child with the request's ctx and allocates four
// times on every request, and then most requests never look at Done: the
// memory store answers at once, and the deadline is checked before a
// save by comparing the clock with Deadline (session.CheckDeadline).
// So the deadline is kept as a time, and the first call that needs a
// channel (Done: a store that waits on the network, a handler that
// selects on it) makes the real context.WithDeadline; from then on
// every method is that context's. Err tells a passed deadline from the
// clock meanwhile. The result is a context.Context like WithDeadline's:
// Err is non-nil exactly when Done is closed, and both stay so.
//
// Methods may be called from any goroutine (a handler may hand its ctx to
// others); the fast path is one atomic load.
type deadlineCtx struct {
	parent   context.Context // the request's ctx
	deadline time.Time       // the earlier of the parent's and now+timeout

	// state is nil while nothing waited on the ctx, then what it became:
	// armed (a real context) or ended before that. It changes once, under
	// mu, and is read without it.
	state atomic.Pointer[state]
	mu    sync.Mutex
}

// state is what a deadlineCtx became: the real context it delegates to
// once something waits on it, or the error it ended with before that (ctx
// nil).
type state struct {
	ctx    context.Context
	cancel context.CancelFunc
	err    error // with ctx nil
}

// The states of a ctx that ended before anything waited on it, made once:
// ending costs no allocation.
var (
	endedCanceled = &state{err: context.Canceled}
	endedDeadline = &state{err: context.DeadlineExceeded}
)

// closedChan is what Done returns after the ctx ended unarmed.
var closedChan = func() chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}()

// init bounds parent by timeout from now. It is not a constructor so that
// the middleware can keep the ctx in the allocation it makes anyway.
func (c *deadlineCtx) init(parent context.Context, timeout time.Duration) {
	c.parent = parent
	c.deadline = time.Now().Add(timeout)
	if d, ok := parent.Deadline(); ok && d.Before(c.deadline) {
		c.deadline = d
	}
}

func (c *deadlineCtx) Deadline() (time.Time, bool) { return c.deadline, true }

func (c *deadlineCtx) Done() <-chan struct{} {
	st := c.state.Load()
	if st == nil {
		st = c.arm(false)
	}
	if st.ctx == nil {
		return closedChan
	}
	return st.ctx.Done()
}

// Err reports the parent's end, or DeadlineExceeded once the deadline has
// passed, whether or not a timer was armed to notice it.
func (c *deadlineCtx) Err() error {
	st := c.state.Load()
	if st == nil {
		if c.parent.Err() == nil && time.Now().Before(c.deadline) {
			return nil
		}
		// Arm, so that Done is closed from now on too: WithDeadline
		// cancels at once with the parent's error or DeadlineExceeded.
		st = c.arm(false)
	}
	if st.ctx == nil {
		return st.err
	}
	return st.ctx.Err()
}

// Value delegates to the real context once armed: context.WithCancel and
// AfterFunc on this ctx then find its cancelCtx and attach to it, instead
// of each starting a goroutine to watch Done.
func (c *deadlineCtx) Value(key any) any {
	if st := c.state.Load(); st != nil && st.ctx != nil {
		return st.ctx.Value(key)
	}
	return c.parent.Value(key)
}

// arm makes the real context, unless the ctx is armed or ended already, and
// returns the state. With end set it ends the ctx instead: it cancels the
// real context, or records why the ctx ended unarmed.
func (c *deadlineCtx) arm(end bool) *state {
	c.mu.Lock()
	defer c.mu.Unlock()
	st := c.state.Load()
	switch {
	case st != nil:
	case !end:
		st = &state{}
		st.ctx, st.cancel = context.WithDeadline(c.parent, c.deadline)
	case c.parent.Err() != nil:
		st = &state{err: c.parent.Err()}
	case !time.Now().Before(c.deadline):
		st = endedDeadline
	default:
		st = endedCanceled
	}
	c.state.Store(st)
	if end && st.cancel != nil {
		st.cancel()
	}
	return st
}

// end is the cancel of context.WithTimeout: the handler returned, so the
// ctx ends (goroutines it started that still hold it see Done closed), and
// a timer armed for it is released.
func (c *deadlineCtx) end() { c.arm(true) }

func (c *deadlineCtx) String() string { return "httpmw.WithTimeout(request)" }
