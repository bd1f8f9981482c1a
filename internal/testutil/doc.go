// Package testutil holds the few helpers that the module's tests share: a
// buffer that goroutines write while the test reads it, waiting for a
// condition by polling, the latency percentiles benchmarks report, and a
// way to test how a test helper fails, and how much a function allocates.
//
// Only tests and other test-helper packages (stores/internal/storetesting)
// import it; production code must not. It exists so that each helper is
// written once instead of once per package. Helpers that take a testing.TB
// call Fatalf and so must run on the test's own goroutine.
package testutil
