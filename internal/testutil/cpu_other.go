//go:build !unix

package testutil

// CPUTime is not measured outside unix: it returns 0, so cpu-ns/op
// metrics read 0.
func CPUTime() int64 { return 0 }
