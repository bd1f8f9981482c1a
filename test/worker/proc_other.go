//go:build !linux

package worker

import "syscall"

// sysProcAttr: without Pdeathsig, only t.Cleanup stops the workers.
func sysProcAttr() *syscall.SysProcAttr { return nil }

// waitStopped cannot observe the stop without /proc; SIGSTOP is usually
// delivered within microseconds.
func waitStopped(pid int) error { return nil }
