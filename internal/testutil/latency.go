package testutil

import (
	"slices"
	"testing"
	"time"
)

// TimeCalls runs call b.N times, with i counting from 0, times each call on
// its own, and reports the median and the 99th percentile latency as the
// metrics p50-us and p99-us (microseconds). A call that fails fails the
// benchmark. Set up before calling it: it resets the timer.
func TimeCalls(b *testing.B, call func(i int) error) {
	lat := make([]time.Duration, b.N)
	b.ResetTimer()
	for i := range lat {
		start := time.Now()
		if err := call(i); err != nil {
			b.Fatal(err)
		}
		lat[i] = time.Since(start)
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(micros(lat[len(lat)/2]), "p50-us")
	b.ReportMetric(micros(lat[len(lat)*99/100]), "p99-us")
}

func micros(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e3 }
