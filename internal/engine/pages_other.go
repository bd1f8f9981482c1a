//go:build !unix

package engine

// mapPage returns n bytes of Go memory: off-heap pages are implemented for
// unix only, so here the slots count towards the Go heap.
func mapPage(n int) ([]byte, bool) { return make([]byte, n), false }

func unmapPage([]byte) {}
