package metrics_test

import (
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/sessionmesh/sessionmesh/httpmw"
	"github.com/sessionmesh/sessionmesh/metrics"
	"github.com/sessionmesh/sessionmesh/session"
	"github.com/sessionmesh/sessionmesh/stores/memory"
)

// A memory store whose calls are counted and timed, its own counters, and
// the Manager's late changes, all on one registry, served apart from the
// application.
func Example() {
	store, err := memory.New(memory.DefaultConfig())
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	reg := prometheus.NewRegistry()
	st, err := metrics.InstrumentStore(reg, store)
	if err != nil {
		log.Fatal(err)
	}
	m, err := session.NewManager(session.DefaultConfig(st))
	if err != nil {
		log.Fatal(err)
	}
	if err := metrics.RegisterManager(reg, m); err != nil {
		log.Fatal(err)
	}
	if err := metrics.RegisterMemory(reg, store); err != nil {
		log.Fatal(err)
	}
	admin := http.NewServeMux() // an admin listener, not the application's port
	admin.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))

	app := httpmw.New(m)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := session.FromContext(r.Context())
		n, _ := session.Get[int](s, "counter")
		s.Set("counter", n+1)
	}))
	app.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))

	// What a scrape of the admin listener shows, in part:
	rec := httptest.NewRecorder()
	admin.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	for line := range strings.Lines(rec.Body.String()) {
		if strings.HasPrefix(line, "sessionmesh_session_creations_total") ||
			strings.HasPrefix(line, "sessionmesh_memory_sessions") ||
			strings.HasPrefix(line, `sessionmesh_store_duration_seconds_count{op="save"}`) {
			fmt.Print(line)
		}
	}
	// Output:
	// sessionmesh_memory_sessions 1
	// sessionmesh_session_creations_total 1
	// sessionmesh_store_duration_seconds_count{op="save"} 1
}
