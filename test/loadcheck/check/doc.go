// Package check is the load generator and consistency checker behind the
// loadcheck command, importable so that tests can run it in-process and
// assert on its Report.
//
// # Model
//
// Virtual users each hold their own cookie jar and send one request at a
// time, for a fixed duration, to a set of worker URLs through a shared
// client-side round-robin balancer (see balancer.go: a worker whose attempt
// fails is skipped for a cooldown and the request is retried on the next,
// as nginx's proxy_next_upstream does; NoFailover turns that off). Each
// request is a read (GET /peek, the counter unchanged) or a write (GET /,
// the counter incremented), in the configured mix; both answer "N\n".
//
// Every acknowledged write (a 200 with the counter) goes into the user's
// ledger (ledger.go). Each later answer is an observation of the session's
// state, and an acknowledged write above an observed state is counted lost.
// After the load phase every user reads its session back, retrying across
// workers, and that read is checked the same way. A session seen empty
// after an acknowledged write is a lost session. An answer above every
// write the user sent is unexpected (another session's counter). A write
// is sent more than once when its attempt failed and the balancer retried
// it, or when the HTTP client replayed it (Go's client sends a GET again
// when its reused connection closed before any answer, as HAProxy's does
// when the worker behind it died): every send may have been applied, so
// each counts among the writes the user sent (Report.Resent).
//
// Failures are requests whose every attempt failed; availability is the
// share of requests that did not fail. Only loopback URLs are accepted, and
// a run stops by itself after its duration.
package check
