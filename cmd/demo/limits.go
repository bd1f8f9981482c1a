package main

import (
	"log/slog"
	"net/http"
	"time"
)

// The HTTP server's limits (audit M5). Without them a client that sends
// its body a byte at a time, or keeps an idle connection open, holds a
// connection and a goroutine for as long as it likes: thousands of them
// cost the worker memory and file descriptors that real users need.
const (
	// readHeaderTimeout bounds reading a request's headers.
	readHeaderTimeout = 10 * time.Second
	// readTimeout bounds reading a whole request, body included, from its
	// first byte: a slow-body client is cut off after it.
	readTimeout = 10 * time.Second
	// idleTimeout closes a keep-alive connection that sends no request
	// for this long; browsers and balancers reconnect at no cost.
	idleTimeout = 60 * time.Second
	// maxHeaderBytes bounds a request's headers (net/http's default is
	// 1 MiB): 16 KiB holds every cookie a browser keeps for one site many
	// times over, and bounds the session cookies the middleware tries
	// (httpmw: each well-formed one costs a store lookup).
	maxHeaderBytes = 16 << 10
	// writeSlack is the time to write a response once the request has
	// been read and handled (see writeTimeout).
	writeSlack = 5 * time.Second
)

// limits are the timeouts and sizes of the demo's HTTP servers (the
// application's and the admin listener); the zero value sets none.
// parseFlags fills them from the constants above; tests shorten them.
type limits struct {
	readHeader, read, write, idle time.Duration
	maxHeaderBytes                int
}

// defaultLimits are the limits of a worker whose requests may take
// requestTimeout (-request-timeout).
func defaultLimits(requestTimeout time.Duration) limits {
	return limits{
		readHeader:     readHeaderTimeout,
		read:           readTimeout,
		write:          writeTimeout(readTimeout, requestTimeout),
		idle:           idleTimeout,
		maxHeaderBytes: maxHeaderBytes,
	}
}

// writeTimeout is the server's WriteTimeout for requests read within read
// and handled within request. net/http starts it when the headers have been
// read, so it must cover reading the body, handling the request and writing
// the answer: a request that kept to its bounds must never lose its
// response to this one, or the client would retry a save that was made.
// A worker whose requests have no bound (-request-timeout 0) gets none.
func writeTimeout(read, request time.Duration) time.Duration {
	if request <= 0 {
		return 0
	}
	return read + request + writeSlack
}

// httpServer returns an http.Server for h with the limits l, logging its
// errors (a TLS handshake, a header too large) as warnings.
func httpServer(h http.Handler, l limits, log *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: l.readHeader,
		ReadTimeout:       l.read,
		WriteTimeout:      l.write,
		IdleTimeout:       l.idle,
		MaxHeaderBytes:    l.maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}
