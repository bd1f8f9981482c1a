package metrics

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sessionmesh/sessionmesh/session"
	"github.com/sessionmesh/sessionmesh/stores/memory"
)

// register registers every collector of cs on reg, naming what in an error.
func register(reg prometheus.Registerer, what string, cs ...prometheus.Collector) error {
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return fmt.Errorf("metrics: register the %s collectors: %w", what, err)
		}
	}
	return nil
}

// RegisterManager registers m's counter of late changes on reg:
// sessionmesh_session_late_changes_total, read at scrape time.
func RegisterManager(reg prometheus.Registerer, m *session.Manager) error {
	return register(reg, "manager", prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "sessionmesh_session_late_changes_total",
		Help: "Session changes made after the response started, and so not saved: each is a bug in a handler.",
	}, func() float64 { return float64(m.LateChanges()) }))
}

// statsCollector is a prometheus.Collector of a store's counters, which
// it reads (read) once per scrape: the store's hot path pays nothing.
type statsCollector[S any] struct {
	read   func() S
	descs  []*prometheus.Desc
	values []func(ch chan<- prometheus.Metric, s *S)
}

func (c *statsCollector[S]) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.descs {
		ch <- d
	}
}

func (c *statsCollector[S]) Collect(ch chan<- prometheus.Metric) {
	s := c.read()
	for _, v := range c.values {
		v(ch, &s)
	}
}

// metric adds a metric named name, whose samples f sends.
func (c *statsCollector[S]) metric(name, help string, labels []string, f func(d *prometheus.Desc, ch chan<- prometheus.Metric, s *S)) {
	d := prometheus.NewDesc(name, help, labels, nil)
	c.descs = append(c.descs, d)
	c.values = append(c.values, func(ch chan<- prometheus.Metric, s *S) { f(d, ch, s) })
}

// gauge adds a gauge of one Stats field.
func (c *statsCollector[S]) gauge(name, help string, value func(*S) float64) {
	c.metric(name, help, nil, func(d *prometheus.Desc, ch chan<- prometheus.Metric, s *S) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, value(s))
	})
}

// counter adds a counter of one Stats field; name gets its _total.
func (c *statsCollector[S]) counter(name, help string, value func(*S) uint64) {
	c.metric(name+"_total", help, nil, func(d *prometheus.Desc, ch chan<- prometheus.Metric, s *S) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(value(s)))
	})
}

// RegisterMemory registers on reg a collector of st's Stats, read at
// scrape time (sessionmesh_memory_*).
func RegisterMemory(reg prometheus.Registerer, st *memory.Store) error {
	c := &statsCollector[memory.Stats]{read: st.Stats}
	c.gauge("sessionmesh_memory_sessions", "Sessions the memory store holds, expired ones not yet removed included.",
		func(s *memory.Stats) float64 { return float64(s.Sessions) })
	c.gauge("sessionmesh_memory_bytes", "Memory the memory store's sessions hold, as its MaxBytes bound counts it.",
		func(s *memory.Stats) float64 { return float64(s.Bytes) })
	c.counter("sessionmesh_memory_evictions", "Live sessions evicted to respect MaxSessions or MaxBytes.",
		func(s *memory.Stats) uint64 { return s.Evictions })
	c.counter("sessionmesh_memory_expirations", "Expired sessions removed by reads, the sweeper or eviction.",
		func(s *memory.Stats) uint64 { return s.Expired })
	c.counter("sessionmesh_memory_refusals", "New sessions refused (session.ErrFull): no session could be evicted.",
		func(s *memory.Stats) uint64 { return s.Refused })
	return register(reg, "memory store", c)
}
