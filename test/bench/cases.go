package main

import "slices"

// The setups: the processes that run while one or more cases are measured
// against them. A setup is started fresh for every session count and
// repeat, so no case sees another's sessions.
const (
	setupLoadgen  = "loadgen"       // HAProxy answering by itself
	setupBare     = "bare"          // the bare handler's process
	setupMemory1  = "memory-1"      // one worker, memory store
	setupMemory1B = "memory-1-base" // the same with -demo-base's binary
	setupRedis1   = "redis-1"       // redis-server and one worker
	setupShared   = "shared-3"      // three workers, one cluster, HAProxy
	setupShared3  = "shared-3-n3"   // the same with N=3: every worker holds every session
	setupRedis3   = "redis-3"       // redis-server, three workers, HAProxy
	setupMemcache = "memcache-3"    // memcached, three workers, HAProxy
	setupCeiling  = "ceiling-3"     // three workers with their own memory stores, HAProxy
)

// The ways a case reaches its setup.
const (
	modeDirect = "direct" // the one server, no balancer
	modeRR     = "rr"     // HAProxy round-robin
	modeSticky = "sticky" // HAProxy, cookie SRV insert indirect nocache
)

// benchCase is one row of the table: a setup reached one way.
type benchCase struct {
	Name  string
	Setup string
	Mode  string
	// Redis names the case this one's "x redis" divides by: the Redis
	// store with as many workers, behind the same balancer; "" for none.
	Redis string
	// Three: three workers behind HAProxy, compared with the ceiling.
	Three bool
}

const (
	caseBare    = "bare"
	caseCeiling = "ceiling-sticky"
	// caseMemory1Base is memory-1 with the demo binary -demo-base names
	// (a build of another commit), measured in the same run: only named
	// in -cases, never part of "all".
	caseMemory1Base = "memory-1-base"
)

// onlyNamed are the cases "all" leaves out: they run only when named in
// -cases.
var onlyNamed = []string{caseMemory1Base, "shared-n3-rr", "shared-n3-sticky"}

// allCases is every case, in the order they run and print.
func allCases() []benchCase {
	return []benchCase{
		{Name: "loadgen", Setup: setupLoadgen, Mode: modeDirect},
		{Name: caseBare, Setup: setupBare, Mode: modeDirect},
		{Name: "memory-1", Setup: setupMemory1, Mode: modeDirect, Redis: "redis-1"},
		{Name: caseMemory1Base, Setup: setupMemory1B, Mode: modeDirect, Redis: "redis-1"},
		{Name: "redis-1", Setup: setupRedis1, Mode: modeDirect, Redis: "redis-1"},
		{Name: "shared-rr", Setup: setupShared, Mode: modeRR, Redis: "redis-rr", Three: true},
		{Name: "shared-sticky", Setup: setupShared, Mode: modeSticky, Redis: "redis-sticky", Three: true},
		{Name: "shared-n3-rr", Setup: setupShared3, Mode: modeRR, Redis: "redis-rr", Three: true},
		{Name: "shared-n3-sticky", Setup: setupShared3, Mode: modeSticky, Redis: "redis-sticky", Three: true},
		{Name: "redis-rr", Setup: setupRedis3, Mode: modeRR, Redis: "redis-rr", Three: true},
		{Name: "redis-sticky", Setup: setupRedis3, Mode: modeSticky, Redis: "redis-sticky", Three: true},
		{Name: "memcache-rr", Setup: setupMemcache, Mode: modeRR, Redis: "redis-rr", Three: true},
		{Name: "memcache-sticky", Setup: setupMemcache, Mode: modeSticky, Redis: "redis-sticky", Three: true},
		{Name: caseCeiling, Setup: setupCeiling, Mode: modeSticky, Redis: "redis-sticky", Three: true},
	}
}

func caseNames(cs []benchCase) []string {
	names := make([]string, len(cs))
	for i, c := range cs {
		names[i] = c.Name
	}
	return names
}

// setupsOf returns the setups cs need, in the order of their first case.
func setupsOf(cs []benchCase) []string {
	var setups []string
	seen := map[string]bool{}
	for _, c := range cs {
		if !seen[c.Setup] {
			seen[c.Setup] = true
			setups = append(setups, c.Setup)
		}
	}
	return setups
}

// casesOf returns the cases of cs that run against setup.
func casesOf(cs []benchCase, setup string) []benchCase {
	var out []benchCase
	for _, c := range cs {
		if c.Setup == setup {
			out = append(out, c)
		}
	}
	return out
}

// modesOf returns the modes cs reach their setups by, without repeats.
func modesOf(cs []benchCase) []string {
	var modes []string
	for _, c := range cs {
		if !slices.Contains(modes, c.Mode) {
			modes = append(modes, c.Mode)
		}
	}
	return modes
}
