package redis

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/sessionmesh/sessionmesh/internal/servertest"
	"github.com/sessionmesh/sessionmesh/internal/testutil"
	"github.com/sessionmesh/sessionmesh/session"
)

// TestGoRedisLogsToLogger: what go-redis logs on its own (here, the pool
// failing to redial a server that was killed) reaches the Store's
// Config.Logger as a warning, without the password; after Close it no
// longer does.
func TestGoRedisLogsToLogger(t *testing.T) {
	const password = "pw-never-logged"
	srv := servertest.Redis(t, servertest.WithPassword(password))
	var buf testutil.Buffer
	s := open(t, Config{Addrs: []string{srv.Addr()}, Password: password,
		Logger: slog.New(slog.NewTextHandler(&buf, nil)), Timeout: time.Second, DialTimeout: time.Second})

	srv.Kill()
	testutil.Eventually(t, 10*time.Second, "go-redis to log the failed dial", func() bool {
		_, _, err := s.Load(context.Background(), session.NewID())
		return err != nil && strings.Contains(buf.String(), "failed to dial")
	})
	line := buf.String()
	for _, want := range []string{"level=WARN", `msg="redis: connection pool: failed to dial`, srv.Addr(), "logger=go-redis"} {
		if !strings.Contains(line, want) {
			t.Errorf("logged %q; want it to hold %q", line, want)
		}
	}
	if strings.Contains(line, password) {
		t.Errorf("logged %q, which holds the password", line)
	}

	s.Close()
	before := buf.String()
	goLog.Printf(context.Background(), "redis: after close")
	if buf.String() != before {
		t.Errorf("a closed Store's logger still receives go-redis lines: %q", buf.String())
	}
}

// TestGoRedisLogRouting: lines go to the most recently opened Store still
// open, passwords masked; with none open, to slog.Default.
func TestGoRedisLogRouting(t *testing.T) {
	var a, b testutil.Buffer
	sa := &logSink{logger: slog.New(slog.NewTextHandler(&a, nil)), secrets: []string{"pwA", ""}}
	sb := &logSink{logger: slog.New(slog.NewTextHandler(&b, nil)), secrets: []string{"pwB"}}
	goLog.register(sa)
	goLog.register(sb)
	goLog.Printf(context.Background(), "auth %s failed", "pwB")
	if got := b.String(); !strings.Contains(got, `msg="redis: auth <secret> failed"`) || a.String() != "" {
		t.Fatalf("with A then B open: A got %q, B got %q; want B only, password masked", a.String(), got)
	}
	// A line of A's client lands in B's logger (a line says nothing of its
	// client): A's password is masked there too.
	goLog.Printf(context.Background(), "auth %s failed", "pwA")
	if got := b.String(); strings.Contains(got, "pwA") {
		t.Fatalf("A's password in B's logger: %q", got)
	}
	goLog.unregister(sb)
	goLog.Printf(context.Background(), "redis: second")
	if !strings.Contains(a.String(), `msg="redis: second"`) {
		t.Fatalf("after B closed, A got %q; want the line", a.String())
	}
	goLog.unregister(sa)
	if logger, _ := goLog.route(""); logger != nil {
		t.Fatal("a sink is left after both were unregistered")
	}
}
