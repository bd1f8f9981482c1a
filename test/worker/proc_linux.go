package worker

import "syscall"

// sysProcAttr makes the kernel kill the worker if the test binary dies
// without running its cleanups (a test timeout panic, a SIGKILL), so no
// worker outlives its test.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
