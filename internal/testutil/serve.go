package testutil

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// BenchGET serves GET path with the Cookie header cookie to h, in
// process, for every iteration of b, and fails on any status but 200.
// Besides ns/op and the allocations it reports the CPU time of the whole
// process per request as cpu-ns/op: the garbage collector's work
// included, and unaffected by time spent waiting for a core on a shared
// machine.
func BenchGET(b *testing.B, h http.Handler, path, cookie string) {
	b.ReportAllocs()
	cpu, n := CPUTime(), 0
	for ; b.Loop(); n++ {
		req := httptest.NewRequest("GET", path, nil)
		req.Header.Set("Cookie", cookie)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatalf("GET %s: status %d: %s", path, rec.Code, rec.Body)
		}
	}
	b.ReportMetric(float64(CPUTime()-cpu)/float64(n), "cpu-ns/op")
}
