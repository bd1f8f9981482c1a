// Command bench measures, in one run, what a request costs with every
// session store the demo offers, next to a handler with no session library
// at all:
//
//	go run ./test/bench                      # everything: ~15 minutes on 2 cores
//	go run ./test/bench -quick               # a smoke run: 1000 sessions, 2 s per case
//	go run ./test/bench -cases shared-rr,redis-rr -workloads counter -sessions 10k
//	go run ./test/bench -repeat 3 -out /tmp/bench.json -profile /tmp/shared-rr.pprof
//	go run ./test/bench -cases bare,memory-1,memory-1-base -demo-base /tmp/demo-main -sessions 10k
//	go run ./test/bench -table /tmp/bench.json   # the table of an earlier run
//
// It builds cmd/demo into a temporary directory (or runs -demo BINARY),
// then, for every session count and repeat, starts each setup, creates the
// sessions, runs the workloads against each of the setup's cases one after
// the other, and stops the setup before the next one starts. Nothing runs
// in parallel with a measurement but the load generator, so the ratios of
// one run compare like with like on a noisy machine; -repeat N runs the
// whole sequence N times (interleaved: every case once, then every case
// again) and the table shows the medians.
//
// # Cases
//
//	loadgen          HAProxy answering 200 by itself: how fast wrk can go here
//	bare             a map[string]int under a mutex, keyed by the sid cookie,
//	                 in one process (this binary, re-executed as "serve-bare"),
//	                 with the demo's server limits and response headers
//	memory-1         one demo worker, memory store
//	memory-1-base    the same with the demo binary -demo-base names (a build
//	                 of another commit, for a before/after in one run); only
//	                 when named in -cases
//	redis-1          one demo worker, Redis store
//	shared-rr        three demo workers sharing the memory store (cluster, N=2)
//	shared-sticky    behind HAProxy round-robin, or behind HAProxy with
//	                 cookie SRV insert indirect nocache
//	shared-n3-rr     the same with N=3 (every worker holds every session);
//	shared-n3-sticky only when named in -cases
//	redis-rr         three demo workers on one redis-server
//	redis-sticky
//	memcache-rr      three demo workers on one memcached
//	memcache-sticky
//	ceiling-sticky   three demo workers, each with its own unshared memory
//	                 store, behind the sticky balancer: no replication, so
//	                 the most three workers can do
//
// The servers (redis-server, memcached, haproxy) are started on free
// loopback ports, fresh for every setup, and killed after it; install them
// and wrk with scripts/install-deps.sh.
//
// # Workloads
//
// counter: GET / on every request (the demo's counter: a load and a save).
// read: 9 GET /peek (load the session, write nothing) for 1 GET /.
// Each request picks one of the pre-created sessions at random, as a
// Cookie header read from a file; behind the sticky balancer the header
// also carries the SRV cookie HAProxy gave that session when it was
// created, so a session always reaches the worker that created it.
//
// # What it reports
//
// Per case, workload and session count: requests per second, p50 and p99
// latency (wrk's), the CPU time per request of every process under test
// (utime+stime from /proc/PID/stat of the workers, HAProxy, redis-server
// or memcached, read before and after the measured run), errors (non-2xx
// answers, as wrk counts them: status >= 400; socket errors; timeouts),
// and the ratios: to the Redis case with the same number of workers and
// the same balancer (req/s, p99, and CPU per request, the steadier one
// when other processes take cores), to the ceiling (three-worker cases)
// and to the bare handler. loadgen's ratio to bare is the load generator's headroom; wrk's
// own CPU per request and the CPU that other processes of the machine used
// meanwhile ("others", in cores) are in every row of the JSON file.
//
// Then the goals the shared memory store is held to (goals.go: issue 11's,
// for example round-robin counter >= 1.2x Redis, sticky reads >= 0.9x the
// ceiling, memory-1 >= 0.9x bare), for the cases that ran: the ratio
// within each repeat, their median, and whether the median meets the
// target. A ratio within a repeat compares two cases measured minutes
// apart; the table's medians of req/s can come from different repeats.
//
// The load generator is wrk (Debian's), 2 threads and 32 connections by
// default, with the Lua script bench.lua: it keeps one prebuilt request
// per session and path, so picking a request costs two random numbers.
//
// -profile FILE takes a CPU profile of one worker (w0, over its -pprof
// listener) during the first shared-rr counter run and writes FILE and
// FILE.txt, the top of go tool pprof -top -cum.
//
// Not part of go test ./...: the package's tests check its parsing and
// arithmetic only, with no process started.
package main
