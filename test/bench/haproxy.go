package main

import (
	"fmt"
	"strings"
)

// backend is one worker behind HAProxy.
type backend struct {
	Name string // w0, w1, ...: also the value of the sticky SRV cookie
	Addr string // 127.0.0.1:port
}

// stickyCookie is the cookie the sticky frontend inserts; every session's
// Cookie header carries it after the session's creation.
const stickyCookie = "SRV"

// haproxyGlobals is the part of every config the benchmark writes: the
// compose balancer's (docker/balancer/haproxy.cfg) defaults, without its
// Docker DNS and health checks: workers are ready before the balancer
// starts, and none goes away while it runs.
const haproxyGlobals = `global
    maxconn 4096

defaults
    mode http
    timeout connect 1s
    timeout client 30s
    timeout server 10s
    retries 3
    retry-on conn-failure
    option redispatch 1
`

// haproxyConfig returns a config with two frontends on the same workers:
// rrAddr balances round-robin, stickyAddr pins each client to the worker
// named in its SRV cookie, inserted on the first answer (HAProxy's
// "cookie SRV insert indirect nocache": the worker never sees the cookie,
// and answers that carry it are marked not cacheable).
func haproxyConfig(rrAddr, stickyAddr string, workers []backend) string {
	var b strings.Builder
	b.WriteString(haproxyGlobals)
	fmt.Fprintf(&b, "\nfrontend rr\n    bind %s\n    default_backend rr\n", rrAddr)
	fmt.Fprintf(&b, "\nfrontend sticky\n    bind %s\n    default_backend sticky\n", stickyAddr)
	b.WriteString("\nbackend rr\n    balance roundrobin\n")
	for _, w := range workers {
		fmt.Fprintf(&b, "    server %s %s\n", w.Name, w.Addr)
	}
	fmt.Fprintf(&b, "\nbackend sticky\n    balance roundrobin\n    cookie %s insert indirect nocache\n", stickyCookie)
	for _, w := range workers {
		fmt.Fprintf(&b, "    server %s %s cookie %s\n", w.Name, w.Addr, w.Name)
	}
	return b.String()
}

// haproxyStaticConfig returns a config whose one frontend answers every
// request itself, "1\n" like the counter: the cheapest HTTP server on the
// machine, against which the load generator shows how fast it can go.
func haproxyStaticConfig(addr string) string {
	return haproxyGlobals + fmt.Sprintf(`
frontend static
    bind %s
    http-request return status 200 content-type "text/plain; charset=utf-8" string "1\n"
`, addr)
}
