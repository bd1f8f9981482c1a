package storetesting

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sessionmesh/sessionmesh/internal/testutil"
	"github.com/sessionmesh/sessionmesh/session"
)

// WantUnavailable asserts what a user sees while the server at addr, the
// only one of s, is down: Load fails with an error naming addr (no panic,
// no "not found"), and each of three requests through get, a CounterSite
// over s, is a 503.
func WantUnavailable(t testing.TB, s session.Store, addr string, get func() (int, string)) {
	t.Helper()
	if _, _, err := s.Load(context.Background(), session.NewID()); err == nil || !strings.Contains(err.Error(), addr) {
		t.Fatalf("Load with the server killed: %v; want an error naming %s", err, addr)
	}
	for range 3 {
		if code, body := get(); code != http.StatusServiceUnavailable {
			t.Fatalf("GET with the server killed = %d %q; want 503", code, body)
		}
	}
}

// WaitServing waits until get, a CounterSite, answers 200 again, and
// returns the body of that first answer: the counter after the outage.
func WaitServing(t testing.TB, get func() (int, string)) string {
	t.Helper()
	var body string
	testutil.EventuallyNil(t, 5*time.Second, "the store to recover", func() error {
		var code int
		if code, body = get(); code != http.StatusOK {
			return fmt.Errorf("GET = %d %q", code, body)
		}
		return nil
	})
	return body
}

// WantDeadlines asserts that on a stalled server each call of s (Load and
// Save of session id, Delete) ends by its context's deadline, with an error
// that wraps context.DeadlineExceeded, instead of hanging.
func WantDeadlines(t testing.TB, s session.Store, id string) {
	t.Helper()
	calls := map[string]func(context.Context) error{
		"Load": func(ctx context.Context) error { _, _, err := s.Load(ctx, id); return err },
		"Save": func(ctx context.Context) error {
			_, err := s.Save(ctx, id, Patch(time.Now(), "b", "2"))
			return err
		},
		"Delete": func(ctx context.Context) error { return s.Delete(ctx, session.NewID()) },
	}
	for name, call := range calls {
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		start := time.Now()
		err := call(ctx)
		took := time.Since(start)
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("%s on a stalled server: %v; want an error wrapping context.DeadlineExceeded", name, err)
		}
		if took > 350*time.Millisecond {
			t.Errorf("%s took %v with a 100ms deadline", name, took)
		}
	}
}

// WantStalledRequest asserts that a request through get, a CounterSite over
// a store whose server is stalled, is a 503 within 2 s: the store's own
// timeout (Config.Timeout, set well under that) ends it, not the client.
func WantStalledRequest(t testing.TB, get func() (int, string)) {
	t.Helper()
	start := time.Now()
	if code, body := get(); code != http.StatusServiceUnavailable {
		t.Errorf("GET on a stalled server = %d %q; want 503", code, body)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("GET on a stalled server took %v; want about Config.Timeout", took)
	}
}
