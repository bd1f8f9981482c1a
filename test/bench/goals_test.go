package main

import (
	"math"
	"strings"
	"testing"
)

// Each goal is the ratio within a repeat, so that a repeat the machine ran
// slow for every case does not count against one case only; the median
// of those decides. A repeat whose run failed, a case that did not run and
// a workload a goal is not for give no ratio.
func TestCheckGoals(t *testing.T) {
	o := options{Sessions: []int{10000}, Workloads: allWorkloads(), Cases: allCases(), Repeat: 3}
	results := []Result{
		run1("shared-rr", "counter", 10000, 1, 6000, 12000),
		run1("redis-rr", "counter", 10000, 1, 5000, 10000), // 1.2 (met), p99 1.2
		run1("shared-rr", "counter", 10000, 2, 3000, 9000),
		run1("redis-rr", "counter", 10000, 2, 1000, 10000), // 3.0 (met), p99 0.9
		run1("shared-rr", "counter", 10000, 3, 5000, 10000),
		run1("redis-rr", "counter", 10000, 3, 5000, 10000), // 1.0, p99 1.0
		run1("shared-sticky", "read", 10000, 1, 9000, 1),
		run1("ceiling-sticky", "read", 10000, 1, 10000, 1), // 0.9 (met)
		run1("shared-sticky", "read", 10000, 2, 1, 1),
		{Case: caseCeiling, Workload: "read", Sessions: 10000, Repeat: 2, Error: "haproxy exited"},
	}
	got := map[string]GoalResult{}
	for _, g := range checkGoals(results, o) {
		got[g.Workload+" "+g.Goal] = g
	}
	if len(got) != 3 {
		t.Fatalf("goals %v; want counter rr x redis, counter rr p99 x redis and read sticky x ceiling", got)
	}
	for _, tc := range []struct {
		key       string
		each      []float64
		median    float64
		met       bool
		metIn     int
		targetStr string
	}{
		{"counter rr x redis", []float64{1.2, 3, 1}, 1.2, true, 2, ">= 1.20x"},
		{"counter rr p99 x redis", []float64{1.2, 0.9, 1}, 1, true, 2, "<= 1.00x"},
		{"read sticky x ceiling", []float64{0.9}, 0.9, true, 1, ">= 0.90x"},
	} {
		g := got[tc.key]
		if len(g.PerRepeat) != len(tc.each) {
			t.Errorf("%s: per repeat %v, want %v", tc.key, g.PerRepeat, tc.each)
			continue
		}
		for i := range tc.each {
			if math.Abs(g.PerRepeat[i]-tc.each[i]) > 1e-9 {
				t.Errorf("%s: per repeat %v, want %v", tc.key, g.PerRepeat, tc.each)
			}
		}
		if math.Abs(g.Median-tc.median) > 1e-9 || g.Met != tc.met || g.MetIn != tc.metIn || g.Target != tc.targetStr {
			t.Errorf("%s: median %v met %v in %d, target %q; want %v, %v, %d, %q", tc.key, g.Median, g.Met, g.MetIn, g.Target, tc.median, tc.met, tc.metIn, tc.targetStr)
		}
	}
	// One repeat below the target: the median decides, not the best run.
	g := checkGoals([]Result{
		run1("memory-1", "counter", 10000, 1, 8000, 1),
		run1("bare", "counter", 10000, 1, 10000, 1),
	}, options{Sessions: []int{10000}, Workloads: allWorkloads()[:1], Repeat: 1})
	if len(g) != 1 || g[0].Met || g[0].MetIn != 0 || g[0].Goal != "memory-1 x bare" {
		t.Errorf("memory-1 at 0.8x bare: %+v; want one goal, missed", g)
	}
}

func TestPrintGoals(t *testing.T) {
	var b strings.Builder
	printGoals(&b, nil)
	if b.Len() != 0 {
		t.Errorf("no goals printed %q, want nothing", b.String())
	}
	printGoals(&b, []GoalResult{{Sessions: 10000, Workload: "counter", Goal: "rr x redis", Target: ">= 1.20x", PerRepeat: []float64{1.15, 1.09, 1.22}, Median: 1.15, MetIn: 1}})
	want := "| 10k | counter | rr x redis | >= 1.20x | 1.150, 1.090, 1.220 | 1.150x | no (1 of 3 repeats) |"
	if lines := strings.Split(strings.TrimSpace(b.String()), "\n"); len(lines) != 3 || lines[2] != want {
		t.Errorf("goals table:\n%s\nwant its row\n%s", b.String(), want)
	}
}
