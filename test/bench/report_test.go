package main

import (
	"path/filepath"
	"strings"
	"testing"
)

func TestFormats(t *testing.T) {
	for _, tt := range []struct{ got, want string }{
		{count(10000), "10k"}, {count(100000), "100k"}, {count(1500), "1500"}, {count(2000000), "2M"},
		{rate(950), "950"}, {rate(39210), "39.2k"},
		{latency(850), "850 us"}, {latency(1254), "1.25 ms"}, {latency(16340), "16.3 ms"},
		{times(0), "-"}, {times(0.774), "0.77x"},
	} {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
}

func TestPrintTable(t *testing.T) {
	var b strings.Builder
	printTable(&b, []Row{
		{Sessions: 10000, Workload: "counter", Case: "shared-rr", Runs: 1, RPS: 5500, P50us: 4000, P99us: 16300, CPUus: 311, XRedis: 0.77, XCeiling: 0.3, XBare: 0.14, P99XRedis: 1.5, CPUXRedis: 1.17, OtherCores: 0.25},
		{Sessions: 10000, Workload: "counter", Case: "memcache-rr", Failed: 1},
	})
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 4 {
		t.Fatalf("%d lines, want header, rule and 2 rows:\n%s", len(lines), b.String())
	}
	if want := "| 10k | counter | shared-rr | 5.5k | 4.00 ms | 16.3 ms | 311 us | 0 | 0.77x | 0.30x | 0.14x | 1.50x | 1.17x | 0.25 |"; lines[2] != want {
		t.Errorf("row\n%s\nwant\n%s", lines[2], want)
	}
	if !strings.Contains(lines[3], "failed (1 runs)") {
		t.Errorf("failed row: %s", lines[3])
	}
}

// -table prints an earlier run's tables from its JSON file.
func TestRetable(t *testing.T) {
	o := options{Sessions: []int{10000}, Workloads: allWorkloads(), Cases: allCases()[4:7]}
	rep := report{Settings: settingsOf(o), Results: []Result{
		run1("shared-rr", "counter", 10000, 1, 5000, 16000),
		run1("redis-rr", "counter", 10000, 1, 7000, 10000),
	}}
	path := filepath.Join(t.TempDir(), "bench.json")
	if err := writeJSON(path, rep); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	if err := retable(&b, path); err != nil {
		t.Fatal(err)
	}
	// The table (header, rule, 2 workloads x 3 cases), then the goals of
	// the cases that ran (a blank line, header, rule, rr x redis and rr
	// p99 x redis for the counter).
	if !strings.Contains(b.String(), "| 10k | counter | shared-rr | 5.0k |") || strings.Count(b.String(), "\n") != 2+2*3+3+2 ||
		!strings.Contains(b.String(), "| 10k | counter | rr x redis | >= 1.20x | 0.714 | 0.714x | no (0 of 1 repeats) |") {
		t.Errorf("table:\n%s", b.String())
	}
	if err := retable(&b, filepath.Join(t.TempDir(), "none.json")); err == nil {
		t.Error("retable of a missing file succeeded")
	}
}
