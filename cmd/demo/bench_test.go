package main

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/sessionmesh/sessionmesh/internal/testutil"
	"github.com/sessionmesh/sessionmesh/session"
	"github.com/sessionmesh/sessionmesh/stores"
)

// BenchmarkCounter runs a worker's whole handler in process, wired as run
// wires it for the default config: the memory store in the metrics
// wrapper, the request deadline, X-Served-By, CrossOriginProtection, the
// routing, the session middleware and the counter. It is what a worker
// does per request besides reading and writing the connection; compare
// httpmw's BenchmarkCounter, the middleware alone.
//
//	go test -run '^$' -bench Counter -benchmem ./cmd/demo/
func BenchmarkCounter(b *testing.B) {
	for _, c := range []struct{ name, path string }{{"counter", "/"}, {"peek", "/peek"}} {
		b.Run(c.name, func(b *testing.B) {
			h := benchHandler(b)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
			ck := rec.Result().Cookies()[0]
			testutil.BenchGET(b, h, c.path, ck.Name+"="+ck.Value)
		})
	}
}

// benchHandler returns the application's handler of a worker with the
// default config, as run builds it.
func benchHandler(b *testing.B) http.Handler {
	cfg := stores.DefaultConfig()
	st, err := stores.Open(cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { stores.Close(st) })
	_, ist, err := instrument(st)
	if err != nil {
		b.Fatal(err)
	}
	m, err := session.NewManager(cfg.Session(ist))
	if err != nil {
		b.Fatal(err)
	}
	d := newDemo("w0", m, slog.New(slog.NewTextHandler(io.Discard, nil)))
	d.timeout = defaultRequestTimeout
	d.ready.Store(true)
	return d.routes()
}
