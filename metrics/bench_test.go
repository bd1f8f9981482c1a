package metrics_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sessionmesh/sessionmesh/httpmw"
	"github.com/sessionmesh/sessionmesh/internal/testutil"
	"github.com/sessionmesh/sessionmesh/metrics"
	"github.com/sessionmesh/sessionmesh/session"
	"github.com/sessionmesh/sessionmesh/stores/memory"
)

// BenchmarkInstrumentedCounter is httpmw's BenchmarkCounter (the Geddy
// counter in process, over the memory store) with and without
// InstrumentStore: the difference is what the store's metrics cost per
// request (a load and a save).
func BenchmarkInstrumentedCounter(b *testing.B) {
	for _, instrumented := range []bool{false, true} {
		b.Run(fmt.Sprintf("instrumented=%v", instrumented), func(b *testing.B) {
			var st session.Store = newMemory(b, memory.DefaultConfig())
			if instrumented {
				var err error
				if st, err = metrics.InstrumentStore(prometheus.NewRegistry(), st); err != nil {
					b.Fatal(err)
				}
			}
			m, err := session.NewManager(session.DefaultConfig(st))
			if err != nil {
				b.Fatal(err)
			}
			h := httpmw.New(m)(http.HandlerFunc(counter))
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
			cookie := rec.Result().Cookies()[0].String()
			b.ReportAllocs()
			cpu, n := testutil.CPUTime(), 0
			for ; b.Loop(); n++ {
				req := httptest.NewRequest("GET", "/", nil)
				req.Header.Set("Cookie", cookie)
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				if rec.Code != http.StatusOK {
					b.Fatalf("status %d: %s", rec.Code, rec.Body)
				}
			}
			b.ReportMetric(float64(testutil.CPUTime()-cpu)/float64(n), "cpu-ns/op")
		})
	}
}

func counter(w http.ResponseWriter, r *http.Request) {
	s := session.FromContext(r.Context())
	n, _ := session.Get[int](s, "counter")
	if err := s.Set("counter", n+1); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	fmt.Fprintf(w, "%d\n", n+1)
}

// BenchmarkInstrumentedStore is one request's store calls (a load and a
// save of an existing session) on the memory store, with and without
// InstrumentStore: the wrapper's cost without the noise of HTTP.
func BenchmarkInstrumentedStore(b *testing.B) {
	for _, instrumented := range []bool{false, true} {
		b.Run(fmt.Sprintf("instrumented=%v", instrumented), func(b *testing.B) {
			var st session.Store = newMemory(b, memory.DefaultConfig())
			if instrumented {
				var err error
				if st, err = metrics.InstrumentStore(prometheus.NewRegistry(), st); err != nil {
					b.Fatal(err)
				}
			}
			id := session.NewID()
			if _, err := st.Save(ctx, "", patch(id)); err != nil {
				b.Fatal(err)
			}
			bl := st.(session.BinaryLoader)
			p := patch("")
			b.ReportAllocs()
			for b.Loop() {
				if _, found, err := bl.LoadBinary(ctx, id); !found || err != nil {
					b.Fatal(found, err)
				}
				if _, err := st.Save(ctx, id, p); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
