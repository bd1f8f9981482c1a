package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) == 3 && os.Args[1] == bareMode {
		if err := serveBare(os.Args[2]); err != nil {
			fmt.Fprintln(os.Stderr, "bench serve-bare:", err)
			os.Exit(1)
		}
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run is the whole benchmark; it returns the exit code: 0, 1 when a run
// failed (the table and the JSON file are written all the same), 2 on bad
// flags.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "bench:", err)
		return 2
	}
	if o.Table != "" {
		if err := retable(stdout, o.Table); err != nil {
			fmt.Fprintln(stderr, "bench:", err)
			return 1
		}
		return 0
	}
	b, err := newBench(o, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "bench:", err)
		return 1
	}
	defer b.cleanup()
	rep := report{Command: os.Args, Started: time.Now().UTC(), Machine: machine(), Settings: settingsOf(o)}
	rep.Machine.DemoVersion = b.commit
	rep.Results = b.runAll(ctx)
	rep.Finished, rep.Machine.LoadAfter = time.Now().UTC(), loadavg()
	rep.Summary = summarize(rep.Results, o)
	printTable(stdout, rep.Summary)
	rep.Goals = checkGoals(rep.Results, o)
	printGoals(stdout, rep.Goals)
	if err := writeJSON(o.Out, rep); err != nil {
		fmt.Fprintln(stderr, "bench:", err)
		b.failed = true
	} else {
		b.logf("results: %s", o.Out)
	}
	b.writeProfileTop()
	if b.failed || ctx.Err() != nil {
		return 1
	}
	return 0
}

// bench is one invocation's state.
type bench struct {
	opts   options
	stderr io.Writer
	dir    string // temporary: the demo binary, logs, configs, cookie files
	demo   string // the demo binary
	self   string // this binary, re-executed as the bare handler
	lua    string // bench.lua, written into dir
	commit string // of the tree the demo was built from; "" for -demo

	seed     int64 // wrk's seed, new for every run
	profiled bool  // the -profile run is done
	failed   bool  // some run failed: keep dir for its logs
}

// newBench checks that the servers the chosen cases need are installed,
// builds the demo and writes the Lua script.
func newBench(o options, stderr io.Writer) (*bench, error) {
	if err := lookBinaries(o.Cases); err != nil {
		return nil, err
	}
	b := &bench{opts: o, stderr: stderr, seed: time.Now().UnixNano() % 1e9}
	var err error
	if b.self, err = os.Executable(); err != nil {
		return nil, err
	}
	if b.dir, err = os.MkdirTemp("", "sessionmesh-bench-"); err != nil {
		return nil, err
	}
	b.lua = filepath.Join(b.dir, "bench.lua")
	if err = os.WriteFile(b.lua, luaScript, 0o644); err == nil {
		b.demo, err = b.buildDemo()
	}
	if err != nil {
		os.RemoveAll(b.dir)
		return nil, err
	}
	return b, nil
}

// lookBinaries checks that wrk and the servers of the chosen cases are on
// PATH.
func lookBinaries(cases []benchCase) error {
	need := map[string]bool{"wrk": true}
	for _, c := range cases {
		switch c.Setup {
		case setupRedis1, setupRedis3:
			need["redis-server"] = true
		case setupMemcache:
			need["memcached"] = true
		}
		if c.Mode != modeDirect || c.Setup == setupLoadgen {
			need["haproxy"] = true
		}
	}
	var missing []string
	for bin := range need {
		if _, err := exec.LookPath(bin); err != nil {
			missing = append(missing, bin)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("not on PATH: %s (scripts/install-deps.sh installs them)", strings.Join(missing, ", "))
	}
	return nil
}

// buildDemo builds ./cmd/demo of the module in the current directory, or
// returns -demo.
func (b *bench) buildDemo() (string, error) {
	if b.opts.Demo != "" {
		return b.opts.Demo, nil
	}
	out, err := exec.Command("go", "env", "GOMOD").Output()
	gomod := strings.TrimSpace(string(out))
	if err != nil || gomod == "" || gomod == os.DevNull {
		return "", fmt.Errorf("go env GOMOD: not inside the module (%v); run from the repository or pass -demo", err)
	}
	bin := filepath.Join(b.dir, "demo")
	start := time.Now()
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/demo")
	cmd.Dir = filepath.Dir(gomod)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/demo: %w\n%s", err, out)
	}
	b.commit = treeCommit(cmd.Dir)
	b.logf("built the demo of %s in %.1fs", b.commit, time.Since(start).Seconds())
	return bin, nil
}

// treeCommit returns the commit checked out in dir, "+dirty" when the
// tree has changes: what the demo was built from. (go build may not record
// it: GOFLAGS=-buildvcs=false is common.)
func treeCommit(dir string) string {
	out, err := exec.Command("git", "-C", dir, "rev-parse", "--short=12", "HEAD").Output()
	if err != nil {
		return ""
	}
	rev := strings.TrimSpace(string(out))
	if st, err := exec.Command("git", "-C", dir, "status", "--porcelain", "--untracked-files=no").Output(); err == nil && len(st) > 0 {
		rev += "+dirty"
	}
	return rev
}

func (b *bench) logf(format string, args ...any) {
	fmt.Fprintf(b.stderr, format+"\n", args...)
}

// cleanup removes the temporary directory unless -keep, or a run failed
// and its logs tell why.
func (b *bench) cleanup() {
	if b.opts.Keep || b.failed {
		b.logf("logs, configs and cookie files kept in %s", b.dir)
		return
	}
	os.RemoveAll(b.dir)
}

func (b *bench) writeProfileTop() {
	if !b.profiled {
		return
	}
	if err := profileTop(b.demo, b.opts.Profile); err != nil {
		b.logf("profile: %v", err)
		return
	}
	b.logf("profile: %s, its top: %s.txt", b.opts.Profile, b.opts.Profile)
}
