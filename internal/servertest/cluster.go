package servertest

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
)

const clusterSlots = 16384

// RedisCluster starts a redis cluster of masters nodes (no replicas), each
// with the 16384 slots split evenly in order, and waits until every node
// reports cluster_state:ok. Nodes keep their nodes.conf across Restart, so
// a restarted node rejoins the cluster.
//
// The cluster is formed with CLUSTER ADDSLOTSRANGE / SET-CONFIG-EPOCH /
// MEET rather than "redis-cli --cluster create", which refuses fewer than 3
// masters and sleeps in whole seconds while nodes join. Each node's cluster
// bus gets its own free port (--cluster-port), since port+10000 may be
// taken or above 65535. A master only reports ok about 2 s after it starts
// (redis' writable delay), so a cluster takes at least that long.
func RedisCluster(t testing.TB, masters int) []*Server {
	t.Helper()
	if masters < 1 {
		t.Fatalf("servertest: RedisCluster needs at least 1 master, got %d", masters)
	}
	nodes := make([]*Server, masters)
	for i := range nodes {
		nodes[i] = startClusterNode(t)
	}
	for i, n := range nodes {
		if err := joinCluster(n, i, nodes); err != nil {
			t.Fatalf("servertest: cluster setup: %v", err)
		}
	}
	for _, n := range nodes {
		if err := poll(readyTimeout, nil, func() error { return clusterOK(n.Addr()) }); err != nil {
			t.Fatalf("servertest: cluster node %s: %v\n--- last lines of its log ---\n%s", n, err, n.logTail(20))
		}
	}
	return nodes
}

func startClusterNode(t testing.TB) *Server {
	t.Helper()
	s := newServer(t, "redis-server", true)
	s.args = func(s *Server) []string {
		return append(redisBaseArgs(s),
			"--cluster-enabled", "yes",
			"--cluster-config-file", fmt.Sprintf("%s/nodes-%d.conf", s.dir, s.port),
			"--cluster-node-timeout", "2000",
			"--cluster-port", strconv.Itoa(s.busPort))
	}
	s.ready = func(s *Server) error { return pingRedis(s.Addr(), nil) }
	s.launch()
	return s
}

// joinCluster gives node i its share of slots and a distinct config epoch,
// then introduces it to node 0.
func joinCluster(n *Server, i int, nodes []*Server) error {
	first, last := i*clusterSlots/len(nodes), (i+1)*clusterSlots/len(nodes)-1
	cmds := [][]string{
		{"CLUSTER", "ADDSLOTSRANGE", strconv.Itoa(first), strconv.Itoa(last)},
		{"CLUSTER", "SET-CONFIG-EPOCH", strconv.Itoa(i + 1)},
	}
	if i > 0 {
		n0 := nodes[0]
		cmds = append(cmds, []string{"CLUSTER", "MEET", "127.0.0.1",
			strconv.Itoa(n0.port), strconv.Itoa(n0.busPort)})
	}
	if _, err := respDo(n.Addr(), cmds...); err != nil {
		return fmt.Errorf("node %s: %w", n, err)
	}
	return nil
}

// clusterOK checks that CLUSTER INFO on addr reports cluster_state:ok.
func clusterOK(addr string) error {
	reply, err := respDo(addr, []string{"CLUSTER", "INFO"})
	if err != nil {
		return err
	}
	info, _ := reply.(string)
	if !strings.Contains(info, "cluster_state:ok") {
		return fmt.Errorf("%s: cluster_state is not ok yet", addr)
	}
	return nil
}
