// Package storebench measures the session stores side by side in one
// `go test -bench` run, on real servers: a load plus a save of a ~200-byte
// session through the memory, Redis and Memcache stores, next to the raw
// client round trips they are built on (go-redis GET+SET, gomemcache
// Get+Set). Besides ns/op it reports the round trips each store makes per
// load+save, so the cost can be read against the raw baseline.
// BenchmarkInterleaved runs all of them in turn inside one loop, so that on a
// shared, noisy machine their ratios are measured under the same load:
//
//	go test -run '^$' -bench . -benchtime 2s -count 5 ./stores/internal/storebench
//
// It holds only benchmarks and a check of their session's size; nothing
// imports it.
package storebench
