package main

import (
	"bufio"
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"time"
)

// luaScript is bench.lua, written next to the cookie files at start.
//
//go:embed bench.lua
var luaScript []byte

// wrkTimeout is wrk's --timeout: a request without an answer by then
// counts as a timeout error.
const wrkTimeout = 2 * time.Second

// wrkResult is what one wrk run measured: the BENCH line of bench.lua's
// done(), plus wrk's own CPU time from its rusage.
type wrkResult struct {
	Requests   int64   `json:"requests"`
	DurationUs int64   `json:"duration_us"`
	Bytes      int64   `json:"bytes"`
	Connect    int64   `json:"connect"`
	Read       int64   `json:"read"`
	Write      int64   `json:"write"`
	Status     int64   `json:"status"` // answers with status >= 400
	Timeout    int64   `json:"timeout"`
	P50us      float64 `json:"p50_us"`
	P90us      float64 `json:"p90_us"`
	P99us      float64 `json:"p99_us"`
	MaxUs      float64 `json:"max_us"`
	MeanUs     float64 `json:"mean_us"`

	CPU time.Duration `json:"-"` // wrk's user + system time
}

// Seconds is the measured duration.
func (r wrkResult) Seconds() float64 { return float64(r.DurationUs) / 1e6 }

// errNoBenchLine means wrk ended without the line bench.lua's done() prints.
var errNoBenchLine = errors.New("wrk: no BENCH line in its output")

// parseWrk finds the BENCH line in wrk's standard output and decodes it.
func parseWrk(out []byte) (wrkResult, error) {
	var r wrkResult
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line, ok := bytes.CutPrefix(sc.Bytes(), []byte("BENCH "))
		if !ok {
			continue
		}
		if err := json.Unmarshal(line, &r); err != nil {
			return r, fmt.Errorf("wrk: BENCH line %q: %w", line, err)
		}
		if r.DurationUs <= 0 {
			return r, fmt.Errorf("wrk: BENCH line %q: no duration", line)
		}
		return r, nil
	}
	return r, errNoBenchLine
}

// wrkArgs returns wrk's command line: d is rounded up to whole seconds,
// the only unit wrk takes.
func wrkArgs(o options, lua, url, cookies string, w workload, d time.Duration, seed int64) []string {
	secs := int(math.Ceil(d.Seconds()))
	return []string{
		"-t", strconv.Itoa(o.Threads), "-c", strconv.Itoa(o.Connections),
		"-d", strconv.Itoa(secs) + "s", "--timeout", wrkTimeout.String(),
		"-s", lua, url, "--",
		cookies, strconv.Itoa(w.Reads), strconv.Itoa(w.Writes), strconv.FormatInt(seed, 10),
	}
}

// runWrk runs wrk for d against url with the sessions in the cookies file.
// started, when not nil, is called once wrk has read the cookie file and
// started its threads, which is when its load begins (bench.lua's init can
// take a second with 100k sessions), and the returned CPU is wrk's from
// then on.
func (b *bench) runWrk(ctx context.Context, url, cookies string, w workload, d time.Duration, started func()) (wrkResult, error) {
	b.seed++
	cmd := exec.CommandContext(ctx, "wrk", wrkArgs(b.opts, b.lua, url, cookies, w, d, b.seed)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		return wrkResult{}, fmt.Errorf("wrk: %w", err)
	}
	var initCPU time.Duration
	if started != nil {
		// wrk's threads: one per -threads, created after the script's
		// init, plus its main thread
		err := waitThreads(cmd.Process.Pid, b.opts.Threads+1)
		if err == nil {
			initCPU, err = processCPU(cmd.Process.Pid)
		}
		if err != nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			return wrkResult{}, fmt.Errorf("wrk %s: %w\n%s%s", url, err, stdout.Bytes(), stderr.Bytes())
		}
		started()
	}
	if err := cmd.Wait(); err != nil {
		return wrkResult{}, fmt.Errorf("wrk %s: %w\n%s%s", url, err, stdout.Bytes(), stderr.Bytes())
	}
	r, err := parseWrk(stdout.Bytes())
	if err != nil {
		return r, fmt.Errorf("%w\n%s%s", err, stdout.Bytes(), stderr.Bytes())
	}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		r.CPU = time.Duration(ru.Utime.Nano()+ru.Stime.Nano()) - initCPU
	}
	return r, nil
}

// waitThreads polls /proc/PID/status until the process runs n threads.
func waitThreads(pid, n int) error {
	deadline := time.Now().Add(time.Minute)
	for {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
		if err != nil {
			return err
		}
		threads, zombie, err := parseStatus(b)
		switch {
		case err != nil:
			return err
		case threads >= n:
			return nil
		case zombie:
			return errors.New("exited before its threads started")
		case time.Now().After(deadline):
			return fmt.Errorf("%d threads after a minute, want %d", threads, n)
		}
		time.Sleep(time.Millisecond)
	}
}

// parseStatus returns the Threads count of /proc/PID/status and whether
// the process has exited (State Z, not yet reaped).
func parseStatus(b []byte) (threads int, zombie bool, err error) {
	found := false
	for _, line := range bytes.Split(b, []byte("\n")) {
		k, v, _ := bytes.Cut(line, []byte(":"))
		v = bytes.TrimSpace(v)
		switch string(k) {
		case "Threads":
			threads, err = strconv.Atoi(string(v))
			found = err == nil
		case "State":
			zombie = bytes.HasPrefix(v, []byte("Z"))
		}
	}
	if !found {
		return 0, zombie, fmt.Errorf("/proc status: no Threads line")
	}
	return threads, zombie, nil
}
