package ratelog

import (
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/sessionmesh/sessionmesh/internal/testutil"
)

func TestBurstThenSuppressedCount(t *testing.T) {
	var out testutil.Buffer
	now := time.Unix(1000, 0)
	l := New(slog.New(slog.NewTextHandler(&out, nil)), 2, time.Second, func() time.Time { return now })
	for range 5 {
		l.Log(slog.LevelWarn, "bad conn")
	}
	if n := strings.Count(out.String(), "bad conn"); n != 2 {
		t.Fatalf("wrote %d records in one period, want burst 2:\n%s", n, out.String())
	}
	if n := l.Suppressed(); n != 3 {
		t.Fatalf("Suppressed() = %d, want 3", n)
	}
	now = now.Add(time.Second)
	l.Log(slog.LevelWarn, "bad conn")
	if !strings.Contains(out.String(), "suppressed=3") {
		t.Fatalf("next period's record does not count the 3 held back:\n%s", out.String())
	}
}

// A level the handler does not write takes nothing from the budget: debug
// chatter cannot hide the errors that follow it.
func TestDisabledLevelNotCounted(t *testing.T) {
	var out testutil.Buffer
	now := time.Unix(1000, 0)
	l := New(slog.New(slog.NewTextHandler(&out, &slog.HandlerOptions{Level: slog.LevelInfo})), 1, time.Second, func() time.Time { return now })
	for range 10 {
		l.Log(slog.LevelDebug, "chatter")
	}
	l.Log(slog.LevelError, "real error")
	if !strings.Contains(out.String(), "real error") || strings.Contains(out.String(), "chatter") {
		t.Fatalf("log:\n%s", out.String())
	}
	if n := l.Suppressed(); n != 0 {
		t.Fatalf("Suppressed() = %d after disabled records only, want 0", n)
	}
}
