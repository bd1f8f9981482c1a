package main

import "syscall"

// sysProcAttr makes the kernel kill a server if the benchmark dies
// without stopping it (a panic, a SIGKILL), so no process outlives it.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
