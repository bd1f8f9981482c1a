// Package storetesting holds the helpers that the tests of the stores on a
// server (stores/redis, stores/memcache) share: building patches, creating
// and loading sessions that must exist, the demo's counter served through
// the middleware, waiting for a SIGSTOPped server to stop answering, and
// the checks both stores make of what a user sees while their server is
// down or stalled, of bad patches and of Close.
//
// Only tests import it. Helpers call t.Fatalf and must run on the test's
// own goroutine. The conformance suite every store runs is stores/storetest.
package storetesting
