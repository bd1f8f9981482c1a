//go:build unix

package testutil

import "syscall"

// CPUTime returns the CPU time the process has used, in nanoseconds, all
// threads (the garbage collector's included): benchmarks report it per
// operation (cpu-ns/op), which a machine busy with other work disturbs
// far less than wall time.
func CPUTime() int64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
