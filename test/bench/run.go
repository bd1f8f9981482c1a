package main

import (
	"context"
	"errors"
	"time"
)

// runAll runs every chosen setup for every session count, -repeat times,
// one after the other: the whole sequence, then again.
func (b *bench) runAll(ctx context.Context) []Result {
	var results []Result
	for rep := 1; rep <= b.opts.Repeat; rep++ {
		for _, n := range b.opts.Sessions {
			for _, name := range setupsOf(b.opts.Cases) {
				if ctx.Err() != nil {
					return results
				}
				results = append(results, b.runSetup(ctx, name, n, rep)...)
			}
		}
	}
	return results
}

// runSetup starts one setup, creates n sessions on it and measures each
// workload on each of its cases.
func (b *bench) runSetup(ctx context.Context, name string, n, rep int) []Result {
	cases := casesOf(b.opts.Cases, name)
	b.logf("[%d/%d] %s with %d sessions", rep, b.opts.Repeat, name, n)
	start := time.Now()
	s, err := b.startSetup(ctx, name)
	if err != nil {
		return b.failAll(cases, n, rep, err)
	}
	defer s.stop()
	b.logf("  ready in %.1fs", time.Since(start).Seconds())
	files, err := b.prepareSessions(ctx, s, n, modesOf(cases))
	if err != nil {
		return b.failAll(cases, n, rep, errors.Join(err, s.dead()))
	}
	var results []Result
	for _, w := range b.opts.Workloads {
		for _, c := range cases {
			results = append(results, b.runCase(ctx, s, c, w, files[c.Mode], n, rep))
		}
	}
	return results
}

// failAll records that every run of cases failed with err.
func (b *bench) failAll(cases []benchCase, n, rep int, err error) []Result {
	b.failed = true
	b.logf("  FAILED: %v", err)
	var results []Result
	for _, w := range b.opts.Workloads {
		for _, c := range cases {
			results = append(results, Result{Case: c.Name, Workload: w.Name, Sessions: n, Repeat: rep, Error: err.Error()})
		}
	}
	return results
}

// runCase warms the case up, then measures it: wrk's numbers, and the CPU
// the setup's processes used while wrk ran.
func (b *bench) runCase(ctx context.Context, s *setup, c benchCase, w workload, cookies string, n, rep int) Result {
	r := Result{Case: c.Name, Workload: w.Name, Sessions: n, Repeat: rep}
	url := s.urls[c.Mode]
	if b.opts.Warmup > 0 {
		if _, err := b.runWrk(ctx, url, cookies, w, b.opts.Warmup, nil); err != nil {
			return b.fail(r, err)
		}
	}
	var before cpuSnapshot
	var beforeErr error
	var profile func() error
	started := func() {
		before, beforeErr = snapshot(s.procs)
		if b.wantsProfile(c, w) && s.pprof != "" {
			b.profiled = true
			profile = startProfile(ctx, s.pprof, b.opts.Profile, b.opts.Duration)
		}
	}
	wr, err := b.runWrk(ctx, url, cookies, w, b.opts.Duration, started)
	after, afterErr := snapshot(s.procs)
	if profile != nil {
		if err := profile(); err != nil {
			b.logf("  profile: %v", err)
			b.profiled = false
		}
	}
	if err := errors.Join(err, beforeErr, afterErr, s.dead()); err != nil {
		return b.fail(r, err)
	}
	r.measured(wr, used(before, after, wr.CPU))
	b.logf("  %-15s %-7s %7s req/s  p50 %-8s p99 %-8s %4.0f us CPU/req  %d errors  (wrk %.0f us/req; others %.2f cores)",
		c.Name, w.Name, rate(r.RPS), latency(r.P50us), latency(r.P99us), r.CPUus, r.Errors.Total(), r.WrkCPUus, r.OtherCores)
	return r
}

func (b *bench) fail(r Result, err error) Result {
	b.failed = true
	b.logf("  %s %s FAILED: %v", r.Case, r.Workload, err)
	r.Error = err.Error()
	return r
}
