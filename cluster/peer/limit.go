package peer

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// limitedLog writes at most burst records per period and counts the rest,
// so that a flood of bad connections (a scanner, a misconfigured peer
// redialling) cannot flood the log; the next record that gets through says
// how many were held back.
type limitedLog struct {
	log    *slog.Logger
	now    func() time.Time
	period time.Duration
	burst  int

	mu      sync.Mutex // guards start, count and dropped
	start   time.Time  // of the current period
	count   int        // records written in it
	dropped int        // records held back since the last one written
}

func newLimitedLog(log *slog.Logger, now func() time.Time) *limitedLog {
	return &limitedLog{log: log, now: now, period: 10 * time.Second, burst: 10}
}

// allow reports whether a record may be written now and how many were held
// back before it.
func (l *limitedLog) allow() (ok bool, dropped int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if now := l.now(); now.Sub(l.start) >= l.period {
		l.start, l.count = now, 0
	}
	if l.count >= l.burst {
		l.dropped++
		return false, 0
	}
	l.count++
	dropped, l.dropped = l.dropped, 0
	return true, dropped
}

func (l *limitedLog) write(level slog.Level, msg string, args ...any) {
	ok, dropped := l.allow()
	if !ok {
		return
	}
	if dropped > 0 {
		args = append(args, "suppressed", dropped)
	}
	l.log.Log(context.Background(), level, msg, args...)
}
