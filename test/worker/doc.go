// Package worker runs real cmd/demo processes for black-box tests: the
// harness under test/'s multi-process and chaos tests.
//
// # Model
//
// A test binary builds cmd/demo once (go build into a temporary directory,
// shared by every test of the binary; TestMain passes Exit to goleak so the
// directory is removed at the end). Start launches N workers, each on free
// loopback ports (an HTTP port, an admin port for GET /cluster, and a
// gossip and a peer port for the cluster), each with its own -name and log
// file, and waits until every /readyz answers 200. The environment a worker gets is computed from its
// Spec, so a cluster's join list can name the other workers' ports
// (ClusterEnv); SESSIONS_* variables of the test's own environment are not
// inherited, so a developer's shell cannot change what a test means.
//
// A Worker can then be killed (SIGKILL), frozen and thawed (SIGSTOP,
// SIGCONT), stopped gracefully (SIGTERM, waiting for a clean exit),
// restarted on the same ports, and Pool.Add starts one more. Every process
// is killed and reaped in t.Cleanup, also when the test fails; the kernel
// kills them too if the test binary dies first (Pdeathsig on Linux). When a
// test fails, the tail of every worker's log is printed.
//
// Helpers call t.Fatalf and must be called from the test's goroutine.
// Under go test -short (the inner loop, which starts no process) Start and
// Binary skip the test instead of building or starting anything.
//
// SESSIONMESH_DEMO=/path/to/demo runs that binary instead of building one,
// e.g. to test a release build.
package worker
