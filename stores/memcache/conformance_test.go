package memcache

import (
	"testing"
	"time"

	"github.com/sessionmesh/sessionmesh/internal/servertest"
	"github.com/sessionmesh/sessionmesh/session"
	"github.com/sessionmesh/sessionmesh/stores/storetest"
)

func TestConformance(t *testing.T) {
	srv := servertest.Memcached(t)
	storetest.Run(t, func(t *testing.T, now func() time.Time) session.Store {
		return open(t, Config{Servers: []string{srv.Addr()}, Now: now})
	})
}

// TestConformanceThreeServers: with Geddy's list of servers, sessions are
// spread over them on the ring and each one still behaves as one session (a
// renew may move it to another server).
func TestConformanceThreeServers(t *testing.T) {
	a, b, c := servertest.Memcached(t), servertest.Memcached(t), servertest.Memcached(t)
	storetest.Run(t, func(t *testing.T, now func() time.Time) session.Store {
		return open(t, Config{Servers: []string{a.Addr(), b.Addr(), c.Addr()}, Now: now})
	})
}
