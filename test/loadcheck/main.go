// Command loadcheck drives demo workers with virtual users and checks that
// no acknowledged write is lost:
//
//	go run ./test/loadcheck -urls http://127.0.0.1:8080,http://127.0.0.1:8081 \
//	    -users 50 -duration 30s -mix 9:1 [-json]
//
// It prints requests, failures, availability, p50/p99 latency, lost
// acknowledged writes and lost sessions, and exits 1 when an acknowledged
// write was lost or a session could not be read back, 2 on bad flags.
// The model is documented in package check.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/sessionmesh/sessionmesh/test/loadcheck/check"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run is main without the process: it parses args, runs the check, prints
// the report to stdout and returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	opts, asJSON, err := parseFlags(args, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "loadcheck: %v\n", err)
		return 2
	}
	report, err := check.Run(ctx, opts)
	if err != nil {
		fmt.Fprintf(stderr, "loadcheck: %v\n", err)
		return 2
	}
	if err := write(stdout, report, asJSON); err != nil {
		fmt.Fprintf(stderr, "loadcheck: write report: %v\n", err)
		return 2
	}
	if !report.OK() {
		fmt.Fprintf(stderr, "loadcheck: FAIL: %d lost acknowledged writes, %d sessions not read back\n",
			report.LostWrites, report.Unverified)
		return 1
	}
	return 0
}

func parseFlags(args []string, stderr io.Writer) (opts check.Options, asJSON bool, err error) {
	opts = check.DefaultOptions()
	fs := flag.NewFlagSet("loadcheck", flag.ContinueOnError)
	fs.SetOutput(stderr)
	urls := fs.String("urls", "", "comma-separated worker base URLs, loopback only (required)")
	mix := fs.String("mix", "9:1", "read:write mix")
	fs.IntVar(&opts.Users, "users", opts.Users, "virtual users")
	fs.DurationVar(&opts.Duration, "duration", opts.Duration, "how long to send requests")
	fs.DurationVar(&opts.Timeout, "timeout", opts.Timeout, "timeout of one attempt")
	fs.BoolVar(&opts.NoFailover, "no-failover", false, "do not retry a failed attempt on the next worker")
	fs.Uint64Var(&opts.Seed, "seed", 0, "seed of the users' read/write choices")
	fs.BoolVar(&asJSON, "json", false, "print the report as JSON")
	if err := fs.Parse(args); err != nil {
		return opts, false, err
	}
	if fs.NArg() > 0 {
		return opts, false, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if *urls != "" {
		opts.URLs = strings.Split(*urls, ",")
	}
	opts.Reads, opts.Writes, err = check.ParseMix(*mix)
	if err == nil {
		err = opts.Validate()
	}
	return opts, asJSON, err
}

func write(w io.Writer, r check.Report, asJSON bool) error {
	if !asJSON {
		_, err := io.WriteString(w, r.String())
		return err
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}
