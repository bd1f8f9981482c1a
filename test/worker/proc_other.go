//go:build !linux

package worker

import "syscall"

// sysProcAttr: without Pdeathsig, only t.Cleanup stops the workers.
func sysProcAttr() *syscall.SysProcAttr { return nil }
