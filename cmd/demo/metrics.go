package main

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/sessionmesh/sessionmesh/cluster"
	"github.com/sessionmesh/sessionmesh/metrics"
	"github.com/sessionmesh/sessionmesh/session"
	"github.com/sessionmesh/sessionmesh/stores/memory"
)

// instrument makes the worker's registry, served at GET /metrics on the
// admin listener: the Go runtime's and the process's collectors, the
// store's calls (st is returned instrumented, for the Manager), and the
// counters of the memory store or of the cluster node and its gossip.
func instrument(st session.Store) (*prometheus.Registry, session.Store, error) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	var err error
	switch s := st.(type) {
	case *memory.Store:
		err = metrics.RegisterMemory(reg, s)
	case *cluster.Store:
		if err = metrics.RegisterCluster(reg, s); err == nil {
			err = metrics.RegisterGossip(reg)
		}
	}
	if err != nil {
		return nil, nil, err
	}
	ist, err := metrics.InstrumentStore(reg, st)
	return reg, ist, err
}

// serveMetrics registers the Manager's counters on reg and makes the
// admin listener serve reg at GET /metrics.
func (d *demo) serveMetrics(reg *prometheus.Registry) error {
	if err := metrics.RegisterManager(reg, d.m); err != nil {
		return err
	}
	d.metrics = promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorLog: slogPrinter{d}})
	return nil
}

// slogPrinter logs promhttp's errors (a collector that failed) through
// the worker's logger.
type slogPrinter struct{ d *demo }

func (p slogPrinter) Println(v ...any) { p.d.log.Warn("demo: /metrics", "err", v) }

// unwrap returns the store an instrumented store wraps (metrics.Store),
// whose own interfaces (clusterStore, readiness, drainer) the demo uses.
func unwrap(st session.Store) session.Store {
	if u, ok := st.(interface{ Unwrap() session.Store }); ok {
		return u.Unwrap()
	}
	return st
}

// metricsOrNotFound is GET /metrics: 404 for a demo built without a
// registry (tests that build one by hand).
func (d *demo) metricsOrNotFound(w http.ResponseWriter, r *http.Request) {
	if d.metrics == nil {
		http.NotFound(w, r)
		return
	}
	d.metrics.ServeHTTP(w, r)
}
