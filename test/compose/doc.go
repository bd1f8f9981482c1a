// Package compose is the end-to-end test of docker-compose.yml: the stack a
// user starts first, driven and broken the way production breaks it.
//
// # What it does
//
// TestCompose builds the demo image through the multi-stage Dockerfile
// (scripts/docker-build.sh) and, where the public images cannot be pulled,
// the Redis, Memcached, HAProxy and golang look-alikes
// (scripts/docker-local-images.sh; the golang one is the demo's build stage,
// GO_IMAGE); brings the stack up under a project name
// of its own, with a fresh cluster secret and the balancer on a free loopback
// port; and then, with test/loadcheck's virtual users sending requests
// through the balancer in every step:
//
//   - memory/steady: three workers form one cluster; every worker answers,
//     every container reports healthy, nothing fails, nothing is lost;
//   - memory/kill: docker kill one worker; once the others have declared
//     it dead, start it again and wait until it has rejoined. The users
//     whose session the killed worker owned measure the outage: the time
//     from the kill to their first successful write (BENCHMARKS.md);
//   - memory/partition: docker network disconnect one worker from the
//     cluster network only (gossip and session traffic; its HTTP port
//     stays reachable) until the others have declared it dead (GET
//     /cluster, through the balancer's admin port), then reconnect it and
//     wait until every worker sees all the others again.
//     At the default configuration the quorum guard is on: the cut-off
//     worker answers /healthz but fails /readyz and refuses requests with
//     503 (the test asks it directly), the balancer keeps it out until it
//     is back in the majority, and no acknowledged write is lost.
//     Requests that were in flight on it when it was cut off wake up when
//     it is back, long after loadcheck gave up on them (2s) and retried;
//     the demo's -request-timeout (1.5s) makes their late saves fail
//     instead of overwriting the retries' counters;
//   - memory/rolling-restart: docker restart each worker in turn (SIGTERM,
//     drain, start, wait until it serves again);
//   - memory/scale: --scale worker=5 under load, then back to 3;
//   - redis, memcache: switch the store with SESSIONS_STORE, check the
//     counter again, and prove the sessions live outside the workers by
//     killing every worker at once.
//
// In every step no acknowledged write may be lost and every session must
// read back; without a fault, and in a rolling restart or a scaling, no
// request may fail; under a kill or a disconnect at most 1% may. A fault
// step's load ends a few seconds after the fault has healed. The test logs each docker command and each loadcheck report
// (go test -v). The stack is torn down (docker compose down -v) in
// t.Cleanup, also when a step fails; on failure the workers' and the
// balancer's logs are printed first, and a failed step prints every
// worker's whole log since the step began.
//
// # Requirements
//
// Docker and docker-compose v1 or the docker compose v2 plugin. Nothing is
// skipped: without docker the test fails saying so. The one exception is
// go test -short, the inner loop that starts no container, where the test
// skips; scripts/test.sh (what CI runs) never passes -short. The images to use come
// from DEMO_IMAGE, REDIS_IMAGE, MEMCACHED_IMAGE, LB_IMAGE and GO_IMAGE when set (e.g.
// LB_IMAGE=haproxy:2.8 GO_IMAGE=golang:1.26 on a machine that can pull); those unset are built
// here, the look-alikes from the binaries scripts/install-deps.sh installs and the host's Go.
// The builds take some 6 minutes of a busy 2-core host, nearly all of it
// the demo's compile from cold in its build stage (a rerun recompiles unless
// no file changed); the golang look-alike takes half a minute, two on a
// fresh machine.
//
//	go test -count=1 -v -timeout 20m ./test/compose/
package compose
