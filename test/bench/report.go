package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"time"
)

// printTable writes rows as a Markdown table: readable in a terminal, and
// pasted as is into BENCHMARKS.md. "others" is the CPU, in cores, that the
// rest of the machine used meanwhile.
func printTable(w io.Writer, rows []Row) {
	fmt.Fprintln(w, "| sessions | workload | case | req/s | p50 | p99 | CPU/req | errors | x redis | x ceiling | x bare | p99 x redis | CPU x redis | others |")
	fmt.Fprintln(w, "|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, r := range rows {
		if r.Runs == 0 {
			fmt.Fprintf(w, "| %s | %s | %s | failed (%d runs) | | | | | | | | | | |\n", count(r.Sessions), r.Workload, r.Case, r.Failed)
			continue
		}
		errs := fmt.Sprint(r.Errors)
		if r.Failed > 0 {
			errs += fmt.Sprintf(" (+%d runs failed)", r.Failed)
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %.0f us | %s | %s | %s | %s | %s | %s | %.2f |\n",
			count(r.Sessions), r.Workload, r.Case, rate(r.RPS), latency(r.P50us), latency(r.P99us), r.CPUus, errs,
			times(r.XRedis), times(r.XCeiling), times(r.XBare), times(r.P99XRedis), times(r.CPUXRedis), r.OtherCores)
	}
}

// count writes 10000 as 10k.
func count(n int) string {
	switch {
	case n >= 1000000 && n%1000000 == 0:
		return fmt.Sprintf("%dM", n/1000000)
	case n >= 1000 && n%1000 == 0:
		return fmt.Sprintf("%dk", n/1000)
	}
	return fmt.Sprint(n)
}

// rate writes requests per second: 950, 5.5k, 39.2k.
func rate(rps float64) string {
	if rps < 1000 {
		return fmt.Sprintf("%.0f", rps)
	}
	return fmt.Sprintf("%.1fk", rps/1000)
}

// latency writes microseconds: 850 us, 1.25 ms, 16.3 ms.
func latency(us float64) string {
	switch {
	case us < 1000:
		return fmt.Sprintf("%.0f us", us)
	case us < 10000:
		return fmt.Sprintf("%.2f ms", us/1000)
	}
	return fmt.Sprintf("%.1f ms", us/1000)
}

// times writes a ratio, "-" where there is none.
func times(x float64) string {
	if x == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2fx", x)
}

// report is the JSON file: how the run was made, every run, the table.
type report struct {
	Command  []string     `json:"command"`
	Started  time.Time    `json:"started"`
	Finished time.Time    `json:"finished"`
	Machine  machineInfo  `json:"machine"`
	Settings settings     `json:"settings"`
	Results  []Result     `json:"results"`
	Summary  []Row        `json:"summary"`
	Goals    []GoalResult `json:"goals,omitempty"`
}

type machineInfo struct {
	CPUs        int    `json:"cpus"`
	Model       string `json:"model"`
	GoVersion   string `json:"go"`
	LoadBefore  string `json:"loadavg_before"`
	LoadAfter   string `json:"loadavg_after"`
	DemoVersion string `json:"demo_commit,omitempty"`
}

type settings struct {
	Duration    string   `json:"duration"`
	Warmup      string   `json:"warmup"`
	Connections int      `json:"connections"`
	Threads     int      `json:"wrk_threads"`
	Sessions    []int    `json:"sessions"`
	Cases       []string `json:"cases"`
	Workloads   []string `json:"workloads"`
	Repeat      int      `json:"repeat"`
}

func settingsOf(o options) settings {
	s := settings{Duration: o.Duration.String(), Warmup: o.Warmup.String(), Connections: o.Connections,
		Threads: o.Threads, Sessions: o.Sessions, Cases: caseNames(o.Cases), Repeat: o.Repeat}
	for _, w := range o.Workloads {
		s.Workloads = append(s.Workloads, w.Name)
	}
	return s
}

// machine describes this machine as far as /proc tells.
func machine() machineInfo {
	m := machineInfo{CPUs: runtime.NumCPU(), GoVersion: runtime.Version(), LoadBefore: loadavg()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range bytes.Split(b, []byte("\n")) {
			if k, v, ok := strings.Cut(string(line), ":"); ok && strings.TrimSpace(k) == "model name" {
				m.Model = strings.TrimSpace(v)
				break
			}
		}
	}
	return m
}

// loadavg returns the first three fields of /proc/loadavg.
func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	return strings.Join(f[:min(3, len(f))], " ")
}

func writeJSON(path string, r report) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// readReport reads a JSON file written by an earlier run.
func readReport(path string) (report, error) {
	var r report
	b, err := os.ReadFile(path)
	if err == nil {
		err = json.Unmarshal(b, &r)
	}
	if err != nil {
		return r, fmt.Errorf("read %s: %w", path, err)
	}
	return r, nil
}

// retable prints the tables of an earlier run's JSON file again, with
// this version's columns, ratios and goals, from its runs.
func retable(w io.Writer, path string) error {
	r, err := readReport(path)
	if err != nil {
		return err
	}
	o, err := r.Settings.options()
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	printTable(w, summarize(r.Results, o))
	printGoals(w, checkGoals(r.Results, o))
	return nil
}

// options returns the selection the settings record: what summarize and
// checkGoals need.
func (s settings) options() (options, error) {
	o := options{Sessions: s.Sessions, Repeat: s.Repeat}
	var err error
	if o.Cases, err = pickCases(strings.Join(s.Cases, ",")); err != nil {
		return o, err
	}
	o.Workloads, err = pickWorkloads(strings.Join(s.Workloads, ","))
	return o, err
}
