// Package ratelog limits how many records a logger writes, for the log
// lines that whoever can reach a port can cause: a garbage packet on the
// gossip port, a bad connection on the peer port. Without a limit a flood
// of them is a flood of the log (disk, the log pipeline's bill, the real
// errors lost among them); with one, the log says how many were held back.
package ratelog

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// Logger writes at most Burst records per Period to an slog.Logger and
// counts the rest; the next record that gets through carries a
// "suppressed" attribute with how many were held back before it. A record
// whose level the slog.Logger does not write (Debug, usually) is not
// counted, so disabled chatter takes nothing from the budget. It is safe
// for concurrent use.
type Logger struct {
	log    *slog.Logger
	now    func() time.Time
	period time.Duration
	burst  int

	mu      sync.Mutex // guards start, count, dropped and total
	start   time.Time  // of the current period
	count   int        // records written in it
	dropped int        // records held back since the last one written
	total   uint64     // records held back since New
}

// New returns a Logger that writes to log at most burst records per
// period, timed by now (time.Now outside tests). burst below 1 counts as 1.
func New(log *slog.Logger, burst int, period time.Duration, now func() time.Time) *Logger {
	return &Logger{log: log, now: now, period: period, burst: max(burst, 1)}
}

// Log writes a record like slog.Logger.Log, unless the budget of the
// current period is spent: then it only counts it.
func (l *Logger) Log(level slog.Level, msg string, args ...any) {
	ctx := context.Background()
	if !l.log.Enabled(ctx, level) {
		return
	}
	ok, dropped := l.allow()
	if !ok {
		return
	}
	if dropped > 0 {
		args = append(args, "suppressed", dropped)
	}
	l.log.Log(ctx, level, msg, args...)
}

// Suppressed returns how many records were held back since New: what a
// metric or a test reads.
func (l *Logger) Suppressed() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.total
}

// allow reports whether a record may be written now and how many were
// held back before it.
func (l *Logger) allow() (ok bool, dropped int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if now := l.now(); now.Sub(l.start) >= l.period {
		l.start, l.count = now, 0
	}
	if l.count >= l.burst {
		l.dropped++
		l.total++
		return false, 0
	}
	l.count++
	dropped, l.dropped = l.dropped, 0
	return true, dropped
}
