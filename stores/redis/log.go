package redis

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"

	goredis "github.com/redis/go-redis/v9"
)

// go-redis logs what it cannot return to a caller (a dial that failed in
// the pool, a Sentinel failover, a cluster reload) through one process-wide
// logger, redis.SetLogger, which by default writes to stderr through the
// standard log package. The first New replaces it with goLog, which sends
// each line to the Config.Logger of the most recently opened Store that is
// still open, or to slog.Default() when none is: a Printf call carries no
// sign of which client made it, so with two Stores and two loggers in one
// process a line may land in the other Store's logger. A program that wants
// go-redis's lines elsewhere calls redis.SetLogger after its first New.
var (
	goLog        = &logRouter{}
	installGoLog sync.Once
)

// logRouter implements go-redis's logging interface on top of slog.
type logRouter struct {
	// guards open
	mu sync.Mutex
	// open holds a sink per open Store, oldest first; the last one gets
	// the lines.
	open []*logSink
}

// logSink is where one Store's go-redis lines go, and the secrets to mask
// in them.
type logSink struct {
	logger  *slog.Logger
	secrets []string
}

// register makes sink the destination of go-redis's lines until it is
// unregistered, and installs the router on first use.
func (r *logRouter) register(sink *logSink) {
	installGoLog.Do(func() { goredis.SetLogger(r) })
	r.mu.Lock()
	defer r.mu.Unlock()
	r.open = append(r.open, sink)
}

func (r *logRouter) unregister(sink *logSink) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.open = slices.DeleteFunc(r.open, func(s *logSink) bool { return s == sink })
}

// route returns the logger of the most recently opened Store (nil when
// none is open) and msg with the passwords of every open Store masked: a
// line may come from any of their clients, whichever logger it goes to.
func (r *logRouter) route(msg string) (*slog.Logger, string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, sink := range r.open {
		msg = sink.mask(msg)
	}
	if len(r.open) == 0 {
		return nil, msg
	}
	return r.open[len(r.open)-1].logger, msg
}

// Printf implements go-redis's internal.Logging. Its lines are about
// failures the pool or a failover works around (or a panic it recovered), so
// they are logged as warnings, with "redis: " in front once, and the
// passwords of every open Store masked in case an error quotes one.
func (r *logRouter) Printf(ctx context.Context, format string, v ...any) {
	logger, msg := r.route(strings.TrimSpace(fmt.Sprintf(format, v...)))
	if logger == nil {
		logger = slog.Default()
	}
	logger.Log(ctx, slog.LevelWarn, "redis: "+strings.TrimPrefix(msg, "redis: "), "logger", "go-redis")
}

func (s *logSink) mask(msg string) string {
	for _, secret := range s.secrets {
		if secret != "" {
			msg = strings.ReplaceAll(msg, secret, "<secret>")
		}
	}
	return msg
}
