//go:build !unix

package httpmw_test

// cpuTime is not measured outside unix; the cpu-ns/op metric reads 0.
func cpuTime() int64 { return 0 }
