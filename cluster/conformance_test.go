package cluster_test

import (
	"testing"
	"time"

	"github.com/sessionmesh/sessionmesh/cluster"
	"github.com/sessionmesh/sessionmesh/cluster/clustertest"
	"github.com/sessionmesh/sessionmesh/session"
	"github.com/sessionmesh/sessionmesh/stores/storetest"
)

// newCluster returns a storetest factory for n in-process nodes that all
// use the suite's clock. The suite talks to node 0; with 3 nodes two
// thirds of its sessions live elsewhere, so the peer path is exercised.
func newCluster(n int) func(*testing.T, func() time.Time) session.Store {
	return func(t *testing.T, now func() time.Time) session.Store {
		c := clustertest.New(t, n, patient(), clustertest.WithConfig(func(_ int, cfg *cluster.Config) {
			cfg.Now = now
		}))
		c.WaitConverged(converge)
		return c.Store(0)
	}
}

func TestConformanceOneNode(t *testing.T) {
	storetest.Run(t, newCluster(1))
}

func TestConformanceThreeNodes(t *testing.T) {
	scenario(t)
	storetest.Run(t, newCluster(3))
}
