// Package lazyctx is context.WithDeadline without its cost on the calls
// that never wait.
//
// context.WithDeadline arms a runtime timer, registers a child with its
// parent and allocates four times, and most of the contexts this project
// makes are never waited on: the memory store answers at once, a peer
// answers within microseconds, and a save checks the deadline by comparing
// the clock with Deadline (session.CheckDeadline). A Ctx keeps the
// deadline as a time, and the first call that needs a channel (Done: a
// store or peer call that waits long, a handler that selects on it) makes
// the real context.WithDeadline; from then on every method is that
// context's. Err tells a passed deadline from the clock meanwhile. The
// result is a context.Context like WithDeadline's: Err is non-nil exactly
// when Done is closed, and both stay so.
//
// httpmw bounds each request's ctx with one (WithTimeout); the cluster
// bounds each peer call with one (CallTimeout), and each request it serves
// for a peer with the caller's deadline.
package lazyctx

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// Ctx is a parent context bounded by a deadline, made without a timer
// until something waits on it. The zero Ctx is not usable: Init it, and
// End it when the work it bounds is done, as one calls the cancel of
// context.WithDeadline.
//
// Methods may be called from any goroutine (a handler may hand its ctx to
// others); the fast path is one atomic load.
type Ctx struct {
	parent   context.Context
	deadline time.Time // the earlier of the parent's and the one Init was given

	// state is nil while nothing waited on the ctx, then what it became:
	// armed (a real context) or ended before that. It changes once, under
	// mu, and is read without it.
	state atomic.Pointer[state]
	mu    sync.Mutex
}

// state is what a Ctx became: the real context it delegates to
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

// New returns parent bounded by deadline: Init on a new Ctx.
func New(parent context.Context, deadline time.Time) *Ctx {
	c := new(Ctx)
	c.Init(parent, deadline)
	return c
}

// Init bounds parent by deadline. A caller can keep the Ctx in an
// allocation it makes anyway (httpmw does) instead of calling New.
func (c *Ctx) Init(parent context.Context, deadline time.Time) {
	c.parent = parent
	c.deadline = deadline
	if d, ok := parent.Deadline(); ok && d.Before(c.deadline) {
		c.deadline = d
	}
}

func (c *Ctx) Deadline() (time.Time, bool) { return c.deadline, true }

func (c *Ctx) Done() <-chan struct{} {
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
func (c *Ctx) Err() error {
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
func (c *Ctx) Value(key any) any {
	if st := c.state.Load(); st != nil && st.ctx != nil {
		return st.ctx.Value(key)
	}
	return c.parent.Value(key)
}

// arm makes the real context, unless the ctx is armed or ended already, and
// returns the state. With end set it ends the ctx instead: it cancels the
// real context, or records why the ctx ended unarmed.
func (c *Ctx) arm(end bool) *state {
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

// End is the cancel of context.WithDeadline: the work is done, so the ctx
// ends (goroutines that still hold it see Done closed), and a timer armed
// for it is released.
func (c *Ctx) End() { c.arm(true) }

func (c *Ctx) String() string { return "lazyctx.WithDeadline(" + c.deadline.String() + ")" }
