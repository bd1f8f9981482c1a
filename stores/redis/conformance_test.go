package redis

import (
	"testing"
	"time"

	"github.com/sessionmesh/sessionmesh/internal/servertest"
	"github.com/sessionmesh/sessionmesh/session"
	"github.com/sessionmesh/sessionmesh/stores/storetest"
)

// The conformance suite runs against each topology the store supports, each
// on real servers started for the test.

func TestConformanceSingle(t *testing.T) {
	srv := servertest.Redis(t)
	storetest.Run(t, func(t *testing.T, now func() time.Time) session.Store {
		return open(t, Config{Addrs: []string{srv.Addr()}, Now: now})
	})
}

func TestConformanceCluster(t *testing.T) {
	nodes := servertest.RedisCluster(t, 3)
	addrs := make([]string, len(nodes))
	for i, n := range nodes {
		addrs[i] = n.Addr()
	}
	storetest.Run(t, func(t *testing.T, now func() time.Time) session.Store {
		s := open(t, Config{Addrs: addrs, Now: now})
		if !s.cluster {
			t.Fatal("three addresses did not make a cluster client")
		}
		return s
	})
}

func TestConformanceSentinel(t *testing.T) {
	_, sentinels := servertest.RedisSentinel(t, "sessions")
	addrs := make([]string, len(sentinels))
	for i, n := range sentinels {
		addrs[i] = n.Addr()
	}
	storetest.Run(t, func(t *testing.T, now func() time.Time) session.Store {
		return open(t, Config{MasterName: "sessions", Addrs: addrs, Now: now})
	})
}
