package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// healthcheckTimeout bounds one health check: well under the container
// HEALTHCHECK's own --timeout (3s in the Dockerfile), so a hung worker is
// reported as unhealthy with a reason rather than killed silently.
const healthcheckTimeout = 2 * time.Second

// healthcheck is what "demo -healthcheck" runs: it asks the worker that
// listens on addr (the -addr flag) for /healthz over loopback and returns
// nil on a 200. The demo's container image is empty (no shell, no curl),
// so the binary is its own health probe.
func healthcheck(ctx context.Context, addr string) error {
	url, err := healthURL(addr)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, healthcheckTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	// No proxy from the environment and no keep-alive: one request to ourselves.
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<10))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("healthcheck: GET %s: %s", url, resp.Status)
	}
	return nil
}

// healthURL turns a listen address into the URL of its /healthz: a
// wildcard or empty host (":8080", "0.0.0.0:8080", "[::]:8080") is asked on
// 127.0.0.1, a specific host on itself.
func healthURL(addr string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("-addr %q: %w", addr, err)
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port) + "/healthz", nil
}
