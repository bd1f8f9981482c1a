package testutil

import (
	"fmt"
	"runtime"
	"testing"
)

// FatalMessage runs fn on a goroutine of its own with a testing.TB whose
// Fatalf records the message and ends fn, as t.Fatalf ends a test, and
// returns that message ("" if fn did not call Fatalf). It is for testing
// test helpers: how they fail is part of what they offer. Only Fatalf is
// caught; every other method goes to t.
func FatalMessage(t *testing.T, fn func(tb testing.TB)) string {
	f := &fatalTB{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(f)
	}()
	<-done // fn's goroutine has ended: its write of msg happened before
	return f.msg
}

// fatalTB records Fatalf instead of failing the real test.
type fatalTB struct {
	testing.TB
	msg string
}

func (f *fatalTB) Helper() {}

func (f *fatalTB) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}
