//go:build unix

package httpmw_test

import "syscall"

// cpuTime returns the CPU time the process has used, in nanoseconds, all
// threads (the garbage collector's included).
func cpuTime() int64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
