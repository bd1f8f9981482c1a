// Package examples holds runnable examples of sessionmesh in web frameworks,
// in a Go module of its own so that the library's go.mod does not pull the
// frameworks in: chi (package chi) and gin (package gin) with the httpmw
// middleware. gorilla/sessions users (and through it gin-contrib/sessions
// and echo-contrib/session) have adapters/gorillastore in the library.
//
// Each example is a small handler and a test that runs it behind a real
// HTTP server with a cookie jar: scripts/test.sh runs them.
package examples
