package metrics

import (
	"fmt"

	gometrics "github.com/hashicorp/go-metrics"
	gmprometheus "github.com/hashicorp/go-metrics/prometheus"
	"github.com/prometheus/client_golang/prometheus"
)

// RegisterGossip bridges the metrics of the cluster's gossip
// (hashicorp/memberlist: memberlist_gossip, memberlist_msg_alive,
// memberlist_tcp_sent, ...) into reg, through go-metrics' Prometheus sink.
//
// memberlist reports only to go-metrics' process-wide instance, so
// RegisterGossip replaces that instance (go-metrics' NewGlobal): it is the
// one function of this package with an effect beyond reg. Call it once
// per process, for the registry that process serves; a later call
// moves the gossip's metrics to its own registry. The instance starts no
// goroutine (no runtime metrics: use collectors.NewGoCollector) and does not
// prefix the host name.
func RegisterGossip(reg prometheus.Registerer) error {
	sink, err := gmprometheus.NewPrometheusSinkFrom(gmprometheus.PrometheusOpts{Registerer: reg, Name: "sessionmesh_gossip_sink"})
	if err != nil {
		return fmt.Errorf("metrics: register the gossip collectors: %w", err)
	}
	cfg := gometrics.DefaultConfig("")
	cfg.EnableHostname, cfg.EnableRuntimeMetrics = false, false
	if _, err := gometrics.NewGlobal(cfg, sink); err != nil {
		return fmt.Errorf("metrics: install the gossip sink: %w", err)
	}
	return nil
}
