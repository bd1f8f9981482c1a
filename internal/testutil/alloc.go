package testutil

import (
	"runtime"
	"runtime/metrics"
	"testing"
)

// Allocated returns how many heap bytes f allocates (runtime.MemStats
// TotalAlloc across the call). It is exact for f's own goroutine, but
// each call stops the world twice (about 25 µs): for a unit test, not
// for every input of a fuzz target (see AllocBudget).
func Allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// AllocBudget fails t when f allocates more than limit heap bytes: what a
// decoder of untrusted input checks, so that a message cannot make it
// allocate beyond a multiple of the message's size. It screens with
// runtime/metrics, which is cheap enough for a fuzz target (about 1 µs)
// and counts large allocations at once but small ones only when their
// span is swapped out; an input over the limit is measured again exactly
// (Allocated) before it fails, so f must do the same each time it runs.
func AllocBudget(t testing.TB, what string, limit uint64, f func()) {
	t.Helper()
	if quickAllocated(f) <= limit {
		return
	}
	if n := Allocated(f); n > limit {
		t.Fatalf("%s allocated %d bytes; the budget is %d", what, n, limit)
	}
}

func quickAllocated(f func()) uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}}
	metrics.Read(s)
	before := s[0].Value.Uint64()
	f()
	metrics.Read(s)
	return s[0].Value.Uint64() - before
}
