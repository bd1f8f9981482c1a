package memcache

import (
	"context"
	"sync"
)

// sessionLocks queues the saves of one session within this process. The
// gets/CAS loop alone is correct, but requests of one session that arrive
// together on one worker would collide on every try and could run out of
// retries while each one's backoff lets a fresher request win. Queued here,
// they collide only with other processes. Different sessions never wait for
// each other.
type sessionLocks struct {
	mu   sync.Mutex // guards held
	held map[string]*sessionLock
}

// sessionLock is the lock of one session: a token in a one-slot channel, so
// that waiting for it can give up when the caller's context ends.
type sessionLock struct {
	slot chan struct{}
	refs int // holders and waiters; the entry is dropped at zero
}

// lock waits until no other save of id runs in this process, or until ctx
// is done. On success the caller must call the returned unlock.
func (l *sessionLocks) lock(ctx context.Context, id string) (unlock func(), err error) {
	l.mu.Lock()
	if l.held == nil {
		l.held = make(map[string]*sessionLock)
	}
	e := l.held[id]
	if e == nil {
		e = &sessionLock{slot: make(chan struct{}, 1)}
		l.held[id] = e
	}
	e.refs++
	l.mu.Unlock()
	select {
	case e.slot <- struct{}{}:
		return func() { <-e.slot; l.release(id, e) }, nil
	case <-ctx.Done():
		l.release(id, e)
		return nil, ctx.Err()
	}
}

func (l *sessionLocks) release(id string, e *sessionLock) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if e.refs--; e.refs == 0 {
		delete(l.held, id)
	}
}
