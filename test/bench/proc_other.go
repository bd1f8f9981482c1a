//go:build !linux

package main

import "syscall"

// sysProcAttr: without Pdeathsig, only the benchmark's own cleanup stops
// the servers. (The CPU accounting needs Linux's /proc anyway.)
func sysProcAttr() *syscall.SysProcAttr { return nil }
