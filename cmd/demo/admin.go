package main

import (
	"errors"
	"fmt"
	"net"
	"net/http"
)

// defaultAdminAddr is -admin's default: loopback, so that only the
// machine's own users and processes reach the cluster's internals. In a
// container, where loopback is the container's own, set it to the
// address the operators' network reaches (docker-compose.yml: ":8081",
// reached through the balancer's admin port on the host's loopback).
const defaultAdminAddr = "127.0.0.1:8081"

// adminOff reports whether the -admin value turns the admin listener off.
func adminOff(addr string) bool { return addr == "" || addr == "off" }

// adminRoutes is the admin listener's handler (audit M3): GET /cluster,
// which names nodes and internal addresses and asks every member for its
// counts, is served only here, away from the application's port that a
// balancer exposes. /readyz and /healthz are served here too, so that a
// balancer's admin frontend can check the same readiness; the application
// port keeps them for the balancers and health checks that use it.
func (d *demo) adminRoutes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", d.healthz)
	mux.HandleFunc("GET /readyz", d.readyz)
	mux.HandleFunc("GET /cluster", d.clusterStatus)
	mux.HandleFunc("GET /metrics", d.metricsOrNotFound)
	return d.servedBy(mux)
}

// listenAdmin binds the admin listener at addr (flag -admin); nil when it
// is off.
func listenAdmin(addr string) (net.Listener, error) {
	if adminOff(addr) {
		return nil, nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("admin listen (flag -admin; \"off\" for none): %w", err)
	}
	return ln, nil
}

// serveAdmin serves the admin routes on ln, with the same limits as the
// application's server, until stop; stop closes the server and waits for
// it to return. The worker stops it after the application's server, so
// that /cluster shows a drain to its end.
func (d *demo) serveAdmin(ln net.Listener, o options) (stop func()) {
	srv := httpServer(d.adminRoutes(), o.limits, d.log)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			d.log.Warn("demo: admin server stopped", "err", err)
		}
	}()
	d.log.Info("demo: admin", "addr", ln.Addr().String())
	return func() {
		srv.Close()
		<-done
	}
}
