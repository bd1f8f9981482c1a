package worker

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// sysProcAttr makes the kernel kill the worker if the test binary dies
// without running its cleanups (a test timeout panic, a SIGKILL), so no
// worker outlives its test.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

// waitStopped waits until every thread of pid is stopped. kill(SIGSTOP)
// returns before a thread running on another core has seen the signal, and
// that thread may still answer a request the test sends right after Stop.
func waitStopped(pid int) error {
	deadline := time.Now().Add(2 * time.Second)
	for {
		running, err := runningThreads(pid)
		if err != nil || running == 0 {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d threads still running 2s after SIGSTOP", running)
		}
		time.Sleep(time.Millisecond) // the kernel offers no wait for "stopped"
	}
}

// runningThreads counts the threads of pid not in state T (stopped), from
// /proc/PID/task/TID/stat, where the state follows the ")" ending the name.
func runningThreads(pid int) (int, error) {
	stats, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/stat", pid))
	if err != nil || len(stats) == 0 {
		return 0, fmt.Errorf("read threads of %d: %v", pid, err)
	}
	running := 0
	for _, path := range stats {
		b, err := os.ReadFile(path)
		if err != nil {
			continue // the thread exited
		}
		if i := bytes.LastIndexByte(b, ')'); i < 0 || i+2 >= len(b) || b[i+2] != 'T' {
			running++
		}
	}
	return running, nil
}

// RSS returns the worker process's resident memory in bytes (VmRSS of
// /proc/PID/status), and its peak (VmHWM).
func (w *Worker) RSS() (rss, peak int64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", w.pid()))
	if err != nil {
		return 0, 0, err
	}
	for _, line := range bytes.Split(b, []byte("\n")) {
		name, val, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			continue
		}
		var kb int64
		if _, err := fmt.Sscanf(string(bytes.TrimSpace(val)), "%d kB", &kb); err != nil {
			continue
		}
		switch string(name) {
		case "VmRSS":
			rss = kb << 10
		case "VmHWM":
			peak = kb << 10
		}
	}
	if rss == 0 {
		return 0, 0, fmt.Errorf("no VmRSS in /proc/%d/status", w.pid())
	}
	return rss, peak, nil
}
