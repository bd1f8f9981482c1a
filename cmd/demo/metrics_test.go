package main

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/sessionmesh/sessionmesh/internal/servertest"
	"github.com/sessionmesh/sessionmesh/internal/testutil"
)

// scrape is one worker's GET /metrics on its admin listener, parsed.
type scrape map[string]*dto.MetricFamily

func scrapeMetrics(t *testing.T, w *started) scrape {
	t.Helper()
	resp, err := http.Get(w.admin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s/metrics = %d, want 200", w.admin, resp.StatusCode)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	mf, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("GET %s/metrics is not the Prometheus text format: %v", w.admin, err)
	}
	return mf
}

// value is the sample of name whose labels include labels ("k=v"), or of
// a histogram or summary its count; 0 when there is none.
func (s scrape) value(name string, labels ...string) float64 {
	f, ok := s[name]
	if !ok {
		return 0
	}
	for _, m := range f.Metric {
		if hasLabels(m, labels) {
			switch {
			case m.Counter != nil:
				return m.Counter.GetValue()
			case m.Gauge != nil:
				return m.Gauge.GetValue()
			case m.Histogram != nil:
				return float64(m.Histogram.GetSampleCount())
			case m.Summary != nil:
				return float64(m.Summary.GetSampleCount())
			}
		}
	}
	return 0
}

func hasLabels(m *dto.Metric, want []string) bool {
	have := map[string]bool{}
	for _, l := range m.Label {
		have[l.GetName()+"="+l.GetValue()] = true
	}
	for _, w := range want {
		if !have[w] {
			return false
		}
	}
	return true
}

// sum adds up name across the workers' scrapes.
func sum(ss []scrape, name string, labels ...string) float64 {
	total := 0.0
	for _, s := range ss {
		total += s.value(name, labels...)
	}
	return total
}

func scrapeAll(t *testing.T, ws []*started) []scrape {
	var ss []scrape
	for _, w := range ws {
		ss = append(ss, scrapeMetrics(t, w))
	}
	return ss
}

// Three real cluster workers, scraped on their admin listeners: the
// numbers a user relies on move by what the traffic did. Every user's
// first request creates a session (a save, no load), each later one
// loads and saves it; the store's latency histograms count every call;
// the cluster shows three members, every save replicated, and the
// sessions held twice (N=2).
func TestMetricsFollowTraffic(t *testing.T) {
	seeds := []string{servertest.FreeGossipAddr(t), servertest.FreeGossipAddr(t), servertest.FreeGossipAddr(t)}
	var ws []*started
	for i, bind := range seeds {
		// A request deadline far above the default's 1.5 s: the test
		// counts every request, so none may time out on a busy machine
		// (three race-built workers in one process); what a deadline
		// does is TestRequestTimeoutRefusesLateSaves's business.
		args := []string{"-name", fmt.Sprintf("w%d", i), "-request-timeout", "30s"}
		ws = append(ws, start(t, args, clusterEnv(bind, seeds[:i], "2")))
	}
	waitMembers(t, ws, 3)
	before := scrapeAll(t, ws)

	const users, requests = 12, 4
	for u := range users {
		b := &browser{t: t, c: newJarClient(t)}
		for r := range requests {
			b.url = ws[(u+r)%3].url // round robin: every worker serves
			b.expect("/", 200, fmt.Sprintf("%d\n", r+1))
		}
	}
	after := scrapeAll(t, ws)
	grew := func(name string, labels ...string) float64 {
		return sum(after, name, labels...) - sum(before, name, labels...)
	}
	want := map[string]float64{
		"sessionmesh_session_creations_total": users,
		"sessionmesh_session_saves_total":     users * requests,
		"sessionmesh_session_loads_total":     users * (requests - 1),
		"sessionmesh_session_misses_total":    0,
		"sessionmesh_session_renewals_total":  0,
	}
	for name, n := range want {
		if got := grew(name); got != n {
			t.Errorf("%s grew by %v over the workers, want %v", name, got, n)
		}
	}
	if got, n := grew("sessionmesh_store_duration_seconds", "op=save"), float64(users*requests); got != n {
		t.Errorf("the save latency histogram counted %v calls, want %v", got, n)
	}
	if got, n := grew("sessionmesh_store_duration_seconds", "op=load"), float64(users*(requests-1)); got != n {
		t.Errorf("the load latency histogram counted %v calls, want %v", got, n)
	}
	// Every save is replicated to the session's backup before it is
	// acknowledged (anti-entropy and pulls do not replicate): by the
	// primary, or kept by the backup that sent it from the primary's
	// answer.
	if got := grew("sessionmesh_cluster_replication_seconds") + grew("sessionmesh_cluster_kept_copies_total"); got < users*requests {
		t.Errorf("replications and kept copies grew by %v, want at least the %d saves", got, users*requests)
	}
	for i, s := range after {
		if got := s.value("sessionmesh_cluster_members"); got != 3 {
			t.Errorf("w%d: sessionmesh_cluster_members = %v, want 3", i, got)
		}
		if s.value("sessionmesh_cluster_ready") != 1 || s.value("sessionmesh_cluster_quorum") != 1 {
			t.Errorf("w%d is not ready with a quorum by its metrics", i)
		}
		for _, name := range []string{"go_goroutines", "process_resident_memory_bytes"} {
			if _, ok := s[name]; !ok {
				t.Errorf("w%d: no %s in /metrics", i, name)
			}
		}
	}
	// memberlist reports to one instance per process (metrics.RegisterGossip):
	// the last worker started here has the gossip's metrics.
	if after[2].value("memberlist_gossip") == 0 {
		t.Errorf("w2: no gossip rounds in memberlist_gossip")
	}
	// Sessions are counted by each node's anti-entropy scan: two copies
	// of every session show up within a round.
	var held float64
	if !testutil.Poll(20*time.Second, func() bool {
		held = sum(scrapeAll(t, ws), "sessionmesh_cluster_sessions")
		return held == 2*users
	}) {
		t.Errorf("the workers hold %v sessions by sessionmesh_cluster_sessions, want %d (two copies of %d)", held, 2*users, users)
	}
}

// /metrics, which names the cluster's internals, is served on the admin
// listener only.
func TestMetricsOnlyOnTheAdminListener(t *testing.T) {
	s := start(t, nil, noEnv)
	if code, _, _ := httpGet(t, s.url+"/metrics"); code != http.StatusNotFound {
		t.Errorf("GET /metrics on the application's port = %d, want 404", code)
	}
	code, body, _ := httpGet(t, s.admin+"/metrics")
	if code != 200 || !strings.Contains(body, "sessionmesh_memory_sessions ") {
		t.Errorf("GET /metrics on the admin listener = %d, want 200 with the memory store's metrics:\n%s", code, body)
	}
}
