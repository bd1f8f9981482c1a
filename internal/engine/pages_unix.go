//go:build unix

package engine

import "syscall"

// mapPage returns n bytes of zeroed memory from the operating system,
// outside the Go heap, and whether it did (false: the caller got Go memory
// because mmap failed). Memory the garbage collector does not manage is not
// part of its heap goal, so it is not doubled by GOGC: a million sessions
// cost their slots once, not twice (see the package doc).
func mapPage(n int) ([]byte, bool) {
	b, err := syscall.Mmap(-1, 0, n, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		return make([]byte, n), false
	}
	return b, true
}

// unmapPage gives back memory that mapPage mapped.
func unmapPage(b []byte) { syscall.Munmap(b) }
