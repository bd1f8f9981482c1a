package main

import (
	"slices"
	"time"
)

// Errors are the failed requests of one run, as wrk counts them.
type Errors struct {
	Non2xx  int64 `json:"non2xx"` // answers with status >= 400 (wrk's "Non-2xx or 3xx")
	Connect int64 `json:"connect"`
	Read    int64 `json:"read"`
	Write   int64 `json:"write"`
	Timeout int64 `json:"timeout"`
}

// Total is every failed request.
func (e Errors) Total() int64 { return e.Non2xx + e.Connect + e.Read + e.Write + e.Timeout }

// Result is one measured run: one case, workload, session count and repeat.
type Result struct {
	Case     string `json:"case"`
	Workload string `json:"workload"`
	Sessions int    `json:"sessions"`
	Repeat   int    `json:"repeat"`
	Error    string `json:"error,omitempty"` // the run failed; nothing below counts

	Requests int64   `json:"requests"`
	Seconds  float64 `json:"seconds"`
	RPS      float64 `json:"rps"`
	P50us    float64 `json:"p50_us"`
	P99us    float64 `json:"p99_us"`
	MaxUs    float64 `json:"max_us"`
	Errors   Errors  `json:"errors"`

	// CPUus is the CPU time per request of every process under test.
	CPUus float64 `json:"cpu_per_request_us"`
	// CPU is each process's CPU seconds during the run.
	CPU map[string]float64 `json:"cpu_seconds,omitempty"`
	// WrkCPUus is wrk's own CPU time per request, from the moment its
	// threads started (reading the cookie file is left out).
	WrkCPUus float64 `json:"wrk_cpu_per_request_us"`
	// OtherCores is the CPU the rest of the machine used meanwhile, in
	// cores: what a noisy neighbour took. StealCores is what the
	// hypervisor took.
	OtherCores float64 `json:"other_cores"`
	StealCores float64 `json:"steal_cores"`
}

// measured fills r from a wrk run and the CPU used meanwhile.
func (r *Result) measured(w wrkResult, u cpuUsed) {
	r.Requests, r.Seconds = w.Requests, w.Seconds()
	r.RPS = float64(w.Requests) / r.Seconds
	r.P50us, r.P99us, r.MaxUs = w.P50us, w.P99us, w.MaxUs
	r.Errors = Errors{Non2xx: w.Status, Connect: w.Connect, Read: w.Read, Write: w.Write, Timeout: w.Timeout}
	r.CPU = make(map[string]float64, len(u.procs))
	for name, d := range u.procs {
		r.CPU[name] = d.Seconds()
	}
	r.CPUus = perRequest(u.total, w.Requests)
	r.WrkCPUus = perRequest(w.CPU, w.Requests)
	if u.wall > 0 {
		r.OtherCores = u.other.Seconds() / u.wall.Seconds()
		r.StealCores = u.steal.Seconds() / u.wall.Seconds()
	}
}

func perRequest(d time.Duration, requests int64) float64 {
	if requests <= 0 {
		return 0
	}
	return float64(d.Microseconds()) / float64(requests)
}

// Row is one line of the table: the medians of a case's runs and its
// ratios to the other cases of the same workload and session count.
// A ratio of 0 means "not applicable" (or its reference failed).
type Row struct {
	Sessions int     `json:"sessions"`
	Workload string  `json:"workload"`
	Case     string  `json:"case"`
	Runs     int     `json:"runs"`   // that succeeded
	Failed   int     `json:"failed"` // runs that did not
	RPS      float64 `json:"rps"`
	P50us    float64 `json:"p50_us"`
	P99us    float64 `json:"p99_us"`
	CPUus    float64 `json:"cpu_per_request_us"`
	WrkCPUus float64 `json:"wrk_cpu_per_request_us"`
	Errors   int64   `json:"errors"` // summed over the runs
	// OtherCores is the median of the runs' OtherCores: how much of the
	// machine something else took while this case ran.
	OtherCores float64 `json:"other_cores"`

	XRedis    float64 `json:"x_redis,omitempty"`     // req/s over the Redis case's (same workers, same balancer)
	XCeiling  float64 `json:"x_ceiling,omitempty"`   // req/s over ceiling-sticky's (three-worker cases)
	XBare     float64 `json:"x_bare,omitempty"`      // req/s over the bare handler's
	P99XRedis float64 `json:"p99_x_redis,omitempty"` // p99 over the Redis case's: > 1 is worse
	// CPUXRedis is CPU per request over the Redis case's (> 1 costs more):
	// on a noisy machine the steadier comparison, since waiting for a core
	// does not inflate it.
	CPUXRedis float64 `json:"cpu_x_redis,omitempty"`
}

// summarize turns runs into rows, in the order of sessions, workloads and
// cases, with medians over repeats and the ratios between them.
func summarize(results []Result, o options) []Row {
	var rows []Row
	for _, n := range o.Sessions {
		for _, w := range o.Workloads {
			for _, c := range o.Cases {
				rows = append(rows, aggregate(results, c.Name, w.Name, n))
			}
		}
	}
	addRatios(rows, o.Cases)
	return rows
}

// aggregate is the row of one case's runs.
func aggregate(results []Result, c, w string, n int) Row {
	row := Row{Sessions: n, Workload: w, Case: c}
	var rps, p50, p99, cpu, wrk, other []float64
	for _, r := range results {
		if r.Case != c || r.Workload != w || r.Sessions != n {
			continue
		}
		if r.Error != "" {
			row.Failed++
			continue
		}
		row.Runs++
		rps, p50, p99 = append(rps, r.RPS), append(p50, r.P50us), append(p99, r.P99us)
		cpu, wrk, other = append(cpu, r.CPUus), append(wrk, r.WrkCPUus), append(other, r.OtherCores)
		row.Errors += r.Errors.Total()
	}
	row.RPS, row.P50us, row.P99us = median(rps), median(p50), median(p99)
	row.CPUus, row.WrkCPUus, row.OtherCores = median(cpu), median(wrk), median(other)
	return row
}

// addRatios sets every row's ratios to the rows of the same session count
// and workload.
func addRatios(rows []Row, cases []benchCase) {
	type key struct {
		n       int
		w, name string
	}
	byKey := make(map[key]Row, len(rows))
	for _, r := range rows {
		byKey[key{r.Sessions, r.Workload, r.Case}] = r
	}
	for i := range rows {
		r := &rows[i]
		c := findCase(cases, r.Case)
		ref := func(name string) Row { return byKey[key{r.Sessions, r.Workload, name}] }
		if c.Redis != "" {
			r.XRedis = ratio(r.RPS, ref(c.Redis).RPS)
			r.P99XRedis = ratio(r.P99us, ref(c.Redis).P99us)
			r.CPUXRedis = ratio(r.CPUus, ref(c.Redis).CPUus)
		}
		if c.Three {
			r.XCeiling = ratio(r.RPS, ref(caseCeiling).RPS)
		}
		r.XBare = ratio(r.RPS, ref(caseBare).RPS)
	}
}

func findCase(cases []benchCase, name string) benchCase {
	for _, c := range cases {
		if c.Name == name {
			return c
		}
	}
	return benchCase{Name: name}
}

// ratio is a/b, or 0 when either is missing.
func ratio(a, b float64) float64 {
	if a <= 0 || b <= 0 {
		return 0
	}
	return a / b
}

// median of xs, 0 for none; the mean of the middle two for an even count.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	m := len(s) / 2
	if len(s)%2 == 0 {
		return (s[m-1] + s[m]) / 2
	}
	return s[m]
}
