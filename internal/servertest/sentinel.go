package servertest

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// sentinelCount is how many sentinels RedisSentinel starts: three, so that
// a failover can win a majority vote, as in production.
const sentinelCount = 3

// RedisSentinel starts a redis master and three sentinels monitoring it
// under masterName (quorum 1, down-after 1 s, failover-timeout 3 s), and
// waits until every sentinel answers SENTINEL get-master-addr-by-name.
// Sentinels run as "redis-server <conf> --sentinel", so only the
// redis-server binary is needed.
func RedisSentinel(t testing.TB, masterName string) (master *Server, sentinels []*Server) {
	t.Helper()
	master = Redis(t)
	for range sentinelCount {
		sentinels = append(sentinels, startSentinel(t, masterName, master))
	}
	return master, sentinels
}

func startSentinel(t testing.TB, masterName string, master *Server) *Server {
	t.Helper()
	s := newServer(t, "redis-server", false)
	conf := filepath.Join(s.dir, "sentinel.conf")
	body := fmt.Sprintf("sentinel monitor %[1]s 127.0.0.1 %[2]d 1\n"+
		"sentinel down-after-milliseconds %[1]s 1000\n"+
		"sentinel failover-timeout %[1]s 3000\n", masterName, master.port)
	if err := os.WriteFile(conf, []byte(body), 0o644); err != nil {
		t.Fatalf("servertest: write sentinel config: %v", err)
	}
	s.name = "redis-sentinel"
	s.args = func(s *Server) []string {
		return []string{conf, "--sentinel", "--port", strconv.Itoa(s.port),
			"--bind", "127.0.0.1", "--dir", s.dir}
	}
	s.ready = func(s *Server) error { return sentinelKnows(s.Addr(), masterName) }
	s.launch()
	return s
}

// sentinelKnows checks that the sentinel at addr returns an address for
// masterName.
func sentinelKnows(addr, masterName string) error {
	reply, err := respDo(addr, []string{"SENTINEL", "get-master-addr-by-name", masterName})
	if err != nil {
		return err
	}
	if a, ok := reply.([]any); !ok || len(a) != 2 {
		return fmt.Errorf("%s: get-master-addr-by-name %s replied %v", addr, masterName, reply)
	}
	return nil
}
