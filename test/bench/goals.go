package main

import (
	"fmt"
	"io"
	"strings"
)

// goal is one of the targets the shared memory store is held to (issue
// 11, DESIGN.md): a ratio between two cases of one workload, at least
// (or, with atMost, at most) target.
type goal struct {
	workload string // "" for every workload
	name     string // what the ratio is, as the table shows it
	num, den string // the cases divided
	p99      bool   // compares p99 latency, not req/s
	atMost   bool
	target   float64
}

var goals = []goal{
	{workload: "counter", name: "rr x redis", num: "shared-rr", den: "redis-rr", target: 1.2},
	{workload: "read", name: "rr x redis", num: "shared-rr", den: "redis-rr", target: 1.5},
	{name: "rr p99 x redis", num: "shared-rr", den: "redis-rr", p99: true, atMost: true, target: 1},
	{workload: "counter", name: "sticky x redis", num: "shared-sticky", den: "redis-sticky", target: 1.5},
	{workload: "counter", name: "sticky x ceiling", num: "shared-sticky", den: caseCeiling, target: 0.6},
	{workload: "read", name: "sticky x ceiling", num: "shared-sticky", den: caseCeiling, target: 0.9},
	{name: "memory-1 x bare", num: "memory-1", den: caseBare, target: 0.9},
}

// GoalResult is how one goal fared in a run: the ratio within each
// repeat (both cases measured minutes apart at most, so the machine's
// drift between repeats cancels out), and their median.
type GoalResult struct {
	Sessions  int       `json:"sessions"`
	Workload  string    `json:"workload"`
	Goal      string    `json:"goal"`
	Target    string    `json:"target"`
	PerRepeat []float64 `json:"per_repeat"`
	Median    float64   `json:"median"`
	Met       bool      `json:"met"`         // the median meets the target
	MetIn     int       `json:"met_repeats"` // repeats that meet it
}

// checkGoals returns the goals whose two cases ran, for every session
// count and workload of o, in that order.
func checkGoals(results []Result, o options) []GoalResult {
	type key struct {
		c, w   string
		n, rep int
	}
	by := make(map[key]Result, len(results))
	for _, r := range results {
		if r.Error == "" {
			by[key{r.Case, r.Workload, r.Sessions, r.Repeat}] = r
		}
	}
	var out []GoalResult
	for _, n := range o.Sessions {
		for _, w := range o.Workloads {
			for _, g := range goals {
				if g.workload != "" && g.workload != w.Name {
					continue
				}
				gr := GoalResult{Sessions: n, Workload: w.Name, Goal: g.name, Target: g.targetString()}
				for rep := 1; rep <= max(o.Repeat, 1); rep++ {
					a, okA := by[key{g.num, w.Name, n, rep}]
					b, okB := by[key{g.den, w.Name, n, rep}]
					if !okA || !okB {
						continue
					}
					x := ratio(a.RPS, b.RPS)
					if g.p99 {
						x = ratio(a.P99us, b.P99us)
					}
					if x == 0 {
						continue
					}
					gr.PerRepeat = append(gr.PerRepeat, x)
					if g.meets(x) {
						gr.MetIn++
					}
				}
				if len(gr.PerRepeat) == 0 {
					continue
				}
				gr.Median = median(gr.PerRepeat)
				gr.Met = g.meets(gr.Median)
				out = append(out, gr)
			}
		}
	}
	return out
}

func (g goal) meets(x float64) bool {
	if g.atMost {
		return x <= g.target
	}
	return x >= g.target
}

func (g goal) targetString() string {
	if g.atMost {
		return fmt.Sprintf("<= %.2fx", g.target)
	}
	return fmt.Sprintf(">= %.2fx", g.target)
}

// printGoals writes the goals as a Markdown table, nothing when none ran.
// Ratios have three decimals: a median of 0.8983 is missed against 0.9,
// and must not read 0.90.
func printGoals(w io.Writer, gs []GoalResult) {
	if len(gs) == 0 {
		return
	}
	fmt.Fprintln(w, "\n| sessions | workload | goal | target | per repeat | median | met |")
	fmt.Fprintln(w, "|---:|---|---|---|---|---:|---|")
	for _, g := range gs {
		each := make([]string, len(g.PerRepeat))
		for i, x := range g.PerRepeat {
			each[i] = fmt.Sprintf("%.3f", x)
		}
		met := "no"
		if g.Met {
			met = "yes"
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %.3fx | %s (%d of %d repeats) |\n",
			count(g.Sessions), g.Workload, g.Goal, g.Target, strings.Join(each, ", "), g.Median, met, g.MetIn, len(g.PerRepeat))
	}
}
