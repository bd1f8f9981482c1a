package main

import (
	"math"
	"testing"
	"time"
)

func TestMedian(t *testing.T) {
	for _, tt := range []struct {
		in   []float64
		want float64
	}{{nil, 0}, {[]float64{3}, 3}, {[]float64{5, 1, 3}, 3}, {[]float64{4, 1, 3, 2}, 2.5}} {
		if got := median(tt.in); got != tt.want {
			t.Errorf("median(%v) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func run1(c, w string, n, rep int, rps, p99 float64) Result {
	return Result{Case: c, Workload: w, Sessions: n, Repeat: rep, RPS: rps, P99us: p99, CPUus: 100}
}

func TestSummarizeRatios(t *testing.T) {
	o := options{Sessions: []int{10000}, Workloads: allWorkloads()[:1], Cases: allCases()}
	results := []Result{
		run1("bare", "counter", 10000, 1, 40000, 7000),
		run1("memory-1", "counter", 10000, 1, 30000, 7000),
		run1("redis-1", "counter", 10000, 1, 10000, 9000),
		// three repeats: the median is taken, not the mean
		run1("shared-rr", "counter", 10000, 1, 5000, 16000),
		run1("shared-rr", "counter", 10000, 2, 9000, 12000),
		run1("shared-rr", "counter", 10000, 3, 7000, 20000),
		run1("redis-rr", "counter", 10000, 1, 7000, 10000),
		run1("shared-sticky", "counter", 10000, 1, 6000, 10000),
		run1("redis-sticky", "counter", 10000, 1, 8000, 10000),
		run1("ceiling-sticky", "counter", 10000, 1, 20000, 5000),
		{Case: "memcache-rr", Workload: "counter", Sessions: 10000, Repeat: 1, Error: "memcached exited"},
		// another session count and workload stay out of these rows
		run1("redis-rr", "read", 10000, 1, 1, 1),
		run1("redis-rr", "counter", 100000, 1, 1, 1),
	}
	rows := summarize(results, o)
	if len(rows) != len(allCases()) {
		t.Fatalf("%d rows, want one per case (%d)", len(rows), len(allCases()))
	}
	by := map[string]Row{}
	for _, r := range rows {
		by[r.Case] = r
	}
	checks := []struct {
		what      string
		got, want float64
	}{
		{"shared-rr req/s (median of 3)", by["shared-rr"].RPS, 7000},
		{"shared-rr p99 (median of 3)", by["shared-rr"].P99us, 16000},
		{"shared-rr x redis-rr", by["shared-rr"].XRedis, 1},
		{"shared-rr p99 x redis-rr", by["shared-rr"].P99XRedis, 1.6},
		{"shared-rr x ceiling", by["shared-rr"].XCeiling, 0.35},
		{"shared-rr x bare", by["shared-rr"].XBare, 0.175},
		{"shared-sticky x redis-sticky", by["shared-sticky"].XRedis, 0.75},
		{"shared-sticky x ceiling", by["shared-sticky"].XCeiling, 0.3},
		{"ceiling x redis-sticky", by["ceiling-sticky"].XRedis, 2.5},
		{"memory-1 x redis-1", by["memory-1"].XRedis, 3},
		{"memory-1 x bare", by["memory-1"].XBare, 0.75},
		{"memory-1 x ceiling (n/a)", by["memory-1"].XCeiling, 0},
		{"bare x redis (n/a)", by["bare"].XRedis, 0},
		{"memcache-rr: failed, no ratio", by["memcache-rr"].XRedis, 0},
		{"loadgen: no run, no ratio", by["loadgen"].XBare, 0},
	}
	for _, c := range checks {
		if math.Abs(c.got-c.want) > 1e-9 {
			t.Errorf("%s = %v, want %v", c.what, c.got, c.want)
		}
	}
	if r := by["memcache-rr"]; r.Runs != 0 || r.Failed != 1 {
		t.Errorf("memcache-rr: %d runs, %d failed; want 0 and 1", r.Runs, r.Failed)
	}
	if r := by["shared-rr"]; r.Runs != 3 {
		t.Errorf("shared-rr: %d runs, want 3", r.Runs)
	}
}

func TestMeasured(t *testing.T) {
	var r Result
	w := wrkResult{Requests: 20000, DurationUs: 2000000, Status: 2, Timeout: 1, P50us: 500, P99us: 9000, CPU: 400 * time.Millisecond}
	u := cpuUsed{procs: map[string]time.Duration{"w0": time.Second, "haproxy": time.Second},
		total: 2 * time.Second, other: time.Second, steal: 0, wall: 2 * time.Second}
	r.measured(w, u)
	if r.RPS != 10000 || r.CPUus != 100 || r.WrkCPUus != 20 || r.OtherCores != 0.5 || r.Errors.Total() != 3 {
		t.Fatalf("measured: %+v; want 10000 req/s, 100 us CPU/req, wrk 20 us/req, 0.5 other cores, 3 errors", r)
	}
}
