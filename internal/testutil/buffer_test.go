package testutil

import (
	"strings"
	"sync"
	"testing"
)

// TestBuffer: what goroutines write at once is all there, whole.
func TestBuffer(t *testing.T) {
	var b Buffer
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 100 {
				b.Write([]byte("line\n"))
				_ = b.String()
			}
		}()
	}
	wg.Wait()
	if got := strings.Count(b.String(), "line\n"); got != 400 {
		t.Fatalf("the buffer holds %d lines; want 400", got)
	}
}

// TestFatalMessage: the message of a helper's Fatalf comes back, the
// helper stops there, and a helper that does not fail gives "".
func TestFatalMessage(t *testing.T) {
	after := false
	msg := FatalMessage(t, func(tb testing.TB) {
		tb.Fatalf("broken %d", 7)
		after = true
	})
	if msg != "broken 7" || after {
		t.Fatalf("FatalMessage = %q, ran on after Fatalf: %t; want \"broken 7\" and stopped", msg, after)
	}
	if msg := FatalMessage(t, func(testing.TB) {}); msg != "" {
		t.Fatalf("FatalMessage of a helper that did not fail = %q; want \"\"", msg)
	}
}
