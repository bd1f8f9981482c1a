package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// workload is a mix of reads (GET /peek) and writes (GET /).
type workload struct {
	Name          string
	Reads, Writes int
}

// allWorkloads are the workloads -workloads picks from.
func allWorkloads() []workload {
	return []workload{
		{Name: "counter", Reads: 0, Writes: 1},
		{Name: "read", Reads: 9, Writes: 1},
	}
}

// options are the command-line flags.
type options struct {
	Duration    time.Duration // of one measured run
	Warmup      time.Duration // of the unmeasured run before it
	Connections int
	Threads     int
	Sessions    []int
	Cases       []benchCase
	Workloads   []workload
	Repeat      int
	Out         string // the JSON file
	Profile     string // the CPU profile of w0 during ProfileCase's counter run; "" = none
	ProfileCase string // the case -profile records; default shared-rr
	ProfileLoad string // the workload -profile records; default counter
	Demo        string // a prebuilt demo binary; "" = go build ./cmd/demo
	DemoBase    string // the demo binary of the memory-1-base case; "" = none
	Keep        bool   // keep the temporary directory (logs, configs, cookies)
	Table       string // print the table of this JSON file and run nothing
}

// quickDefaults are the flags that -quick changes, unless given explicitly.
func quickDefaults() map[string]string {
	return map[string]string{"duration": "2s", "warmup": "1s", "sessions": "1000"}
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	var sessions, cases, workloads string
	var isQuick bool
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.DurationVar(&o.Duration, "duration", 10*time.Second, "length of each measured run (whole seconds: wrk's unit)")
	fs.DurationVar(&o.Warmup, "warmup", 2*time.Second, "length of the unmeasured run before each measured one (0: none)")
	fs.IntVar(&o.Connections, "c", 32, "connections wrk keeps open")
	fs.IntVar(&o.Threads, "threads", 2, "wrk threads")
	fs.StringVar(&sessions, "sessions", "10k,100k", "session counts, comma-separated (k and m suffixes)")
	fs.StringVar(&cases, "cases", "all", "cases to run, comma-separated: all or "+strings.Join(caseNames(allCases()), ","))
	fs.StringVar(&workloads, "workloads", "counter,read", "workloads to run: counter (GET / only), read (9 GET /peek : 1 GET /)")
	fs.IntVar(&o.Repeat, "repeat", 1, "run every case this many times, interleaved; the table shows medians")
	fs.StringVar(&o.Out, "out", filepath.Join(os.TempDir(), "sessionmesh-bench.json"), "write the results here as JSON")
	fs.StringVar(&o.Profile, "profile", "", "write a CPU profile of worker w0 during the first run of -profile-case and -profile-workload to this file (and its top to FILE.txt)")
	fs.StringVar(&o.ProfileCase, "profile-case", "shared-rr", "the case -profile records (one with a worker w0 serving pprof)")
	fs.StringVar(&o.ProfileLoad, "profile-workload", "counter", "the workload -profile records")
	fs.StringVar(&o.Demo, "demo", "", "run this demo binary instead of building ./cmd/demo")
	fs.StringVar(&o.DemoBase, "demo-base", "", "the demo binary the memory-1-base case runs (a build of another commit, to compare with memory-1 in the same run)")
	fs.BoolVar(&o.Keep, "keep", false, "keep the temporary directory with every process's log")
	fs.StringVar(&o.Table, "table", "", "print the table of an earlier run from its -out file, and run nothing")
	fs.BoolVar(&isQuick, "quick", false, "a smoke run: -duration 2s -warmup 1s -sessions 1000 unless given")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if isQuick {
		if err := applyQuick(fs); err != nil {
			return o, err
		}
	}
	var err error
	if o.Sessions, err = parseCounts(sessions); err != nil {
		return o, err
	}
	if o.Cases, err = pickCases(cases); err != nil {
		return o, err
	}
	if o.Workloads, err = pickWorkloads(workloads); err != nil {
		return o, err
	}
	return o, o.validate()
}

// applyQuick sets the flags that -quick changes and the command line did
// not name.
func applyQuick(fs *flag.FlagSet) error {
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	for name, v := range quickDefaults() {
		if !given[name] {
			if err := fs.Set(name, v); err != nil {
				return err
			}
		}
	}
	return nil
}

func (o options) validate() error {
	var errs []error
	if o.Duration < time.Second {
		errs = append(errs, fmt.Errorf("-duration %v: at least 1s", o.Duration))
	}
	if o.Warmup < 0 {
		errs = append(errs, fmt.Errorf("-warmup %v: negative", o.Warmup))
	}
	if o.Threads < 1 || o.Connections < o.Threads {
		errs = append(errs, fmt.Errorf("-threads %d -c %d: want 1 <= threads <= connections", o.Threads, o.Connections))
	}
	if o.Repeat < 1 {
		errs = append(errs, fmt.Errorf("-repeat %d: at least 1", o.Repeat))
	}
	if slices.Contains(caseNames(o.Cases), caseMemory1Base) {
		if o.DemoBase == "" {
			errs = append(errs, fmt.Errorf("-cases %s: needs -demo-base BINARY", caseMemory1Base))
		} else if st, err := os.Stat(o.DemoBase); err != nil || st.IsDir() {
			errs = append(errs, fmt.Errorf("-demo-base %q: not a file", o.DemoBase))
		}
	}
	return errors.Join(errs...)
}

// parseCounts parses "10k,100k,1500": positive counts with an optional k
// (thousand) or m (million) suffix.
func parseCounts(s string) ([]int, error) {
	var counts []int
	for _, f := range strings.Split(s, ",") {
		f = strings.ToLower(strings.TrimSpace(f))
		mult := 1
		switch {
		case strings.HasSuffix(f, "k"):
			f, mult = strings.TrimSuffix(f, "k"), 1000
		case strings.HasSuffix(f, "m"):
			f, mult = strings.TrimSuffix(f, "m"), 1000000
		}
		n, err := strconv.Atoi(f)
		if err != nil || n < 1 {
			return nil, fmt.Errorf("-sessions %q: want positive counts like 10k,100k", s)
		}
		counts = append(counts, n*mult)
	}
	return counts, nil
}

// pickCases returns the named cases in their table order; "all" is all.
func pickCases(s string) ([]benchCase, error) {
	all := allCases()
	if strings.TrimSpace(s) == "all" {
		return slices.DeleteFunc(all, func(c benchCase) bool { return slices.Contains(onlyNamed, c.Name) }), nil
	}
	names := splitList(s)
	for _, n := range names {
		if !slices.Contains(caseNames(all), n) {
			return nil, fmt.Errorf("-cases: unknown case %q; want all or some of %s", n, strings.Join(caseNames(all), ","))
		}
	}
	var picked []benchCase
	for _, c := range all {
		if slices.Contains(names, c.Name) {
			picked = append(picked, c)
		}
	}
	return picked, nil
}

func pickWorkloads(s string) ([]workload, error) {
	names := splitList(s)
	var picked []workload
	for _, w := range allWorkloads() {
		if slices.Contains(names, w.Name) {
			picked = append(picked, w)
		}
	}
	if len(picked) != len(names) || len(picked) == 0 {
		return nil, fmt.Errorf("-workloads %q: want counter, read or both", s)
	}
	return picked, nil
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}
