// Package test holds the black-box tests that run real cmd/demo processes:
// the harness itself (test/worker), the consistency checker against a real
// worker (test/loadcheck/check), and the multi-process cluster tests.
//
// The default run is short. -load sets how long each load phase runs, for
// longer soak runs in CI: go test ./test/ -args -load=30s
//
// Every test here starts demo processes (test/worker), so go test -short,
// the inner loop that starts none, skips them all.
package test

import (
	"flag"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/sessionmesh/sessionmesh/test/worker"
)

// loadFor is how long each test's load phase runs.
var loadFor = flag.Duration("load", 2*time.Second, "duration of each load phase")

// patient is the per-attempt timeout of the load in tests without a
// frozen worker: on a loaded 2-core CI machine running every package's
// race-enabled tests at once, an answer can take seconds, and that is
// slowness, not a failed request.
const patient = 15 * time.Second

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.Cleanup(worker.Exit))
}
