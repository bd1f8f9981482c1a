//go:build !linux

package worker

import (
	"errors"
	"syscall"
)

// sysProcAttr: without Pdeathsig, only t.Cleanup stops the workers.
func sysProcAttr() *syscall.SysProcAttr { return nil }

// waitStopped cannot observe the stop without /proc; SIGSTOP is usually
// delivered within microseconds.
func waitStopped(pid int) error { return nil }

// RSS is measured on Linux only.
func (w *Worker) RSS() (rss, peak int64, err error) {
	return 0, 0, errors.New("worker: RSS is read from /proc, which this system lacks")
}
