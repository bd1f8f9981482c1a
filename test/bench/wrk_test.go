package main

import (
	"errors"
	"slices"
	"testing"
	"time"
)

// wrkOutput is wrk 4.1's standard output with bench.lua's done() line.
const wrkOutput = `Running 1s test @ http://127.0.0.1:45611
  2 threads and 4 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     2.03ms    5.13ms  40.20ms   92.86%
    Req/Sec     3.79k     2.02k    8.20k    75.00%
  7582 requests in 1.01s, 1.00MB read
  Non-2xx or 3xx responses: 3
Requests/sec:   7502.82
Transfer/sec:      0.99MB
BENCH {"requests":7582,"duration_us":1010553,"bytes":1051838,"connect":1,"read":2,"write":0,"status":3,"timeout":4,"p50_us":333,"p90_us":4396,"p99_us":29951,"max_us":40203,"mean_us":2025.7}
`

func TestParseWrk(t *testing.T) {
	r, err := parseWrk([]byte(wrkOutput))
	if err != nil {
		t.Fatal(err)
	}
	want := wrkResult{Requests: 7582, DurationUs: 1010553, Bytes: 1051838, Connect: 1, Read: 2, Status: 3, Timeout: 4,
		P50us: 333, P90us: 4396, P99us: 29951, MaxUs: 40203, MeanUs: 2025.7}
	if r != want {
		t.Fatalf("parseWrk = %+v\nwant       %+v", r, want)
	}
	if s := r.Seconds(); s != 1.010553 {
		t.Errorf("Seconds = %v, want 1.010553", s)
	}
}

func TestParseWrkRefusesOutputWithoutItsLine(t *testing.T) {
	for name, out := range map[string]string{
		"no line":     "Running 1s test @ http://127.0.0.1:1\nunable to connect to 127.0.0.1:1 Connection refused\n",
		"bad JSON":    "BENCH {\"requests\":\n",
		"no duration": "BENCH {\"requests\":0,\"duration_us\":0}\n",
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := parseWrk([]byte(out)); err == nil {
				t.Fatal("parseWrk accepted it")
			} else if name == "no line" && !errors.Is(err, errNoBenchLine) {
				t.Fatalf("err = %v, want errNoBenchLine", err)
			}
		})
	}
}

func TestWrkArgs(t *testing.T) {
	o := options{Threads: 2, Connections: 32}
	got := wrkArgs(o, "/t/bench.lua", "http://127.0.0.1:8080", "/t/c", workload{Name: "read", Reads: 9, Writes: 1}, 1500*time.Millisecond, 7)
	want := []string{"-t", "2", "-c", "32", "-d", "2s", "--timeout", "2s", "-s", "/t/bench.lua",
		"http://127.0.0.1:8080", "--", "/t/c", "9", "1", "7"}
	if !slices.Equal(got, want) {
		t.Fatalf("wrkArgs =\n%q\nwant\n%q", got, want)
	}
}
