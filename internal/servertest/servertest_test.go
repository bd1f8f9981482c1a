package servertest

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/sessionmesh/sessionmesh/internal/testutil"
)

// TestMain checks that no goroutine (e.g. a process reaper) outlives the tests.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func do(t *testing.T, addr string, cmd ...string) any {
	t.Helper()
	reply, err := respDo(addr, cmd)
	if err != nil {
		t.Fatalf("%s %v: %v", addr, cmd, err)
	}
	return reply
}

// unresponsive checks that addr does not answer PING within 300 ms.
func unresponsive(t *testing.T, addr string) {
	t.Helper()
	if _, err := respDoTimeout(addr, 300*time.Millisecond, []string{"PING"}); err == nil {
		t.Fatalf("%s answered PING, want no answer", addr)
	}
}

// gone checks that process pid has been reaped (no zombie left).
func gone(t *testing.T, pid int) {
	t.Helper()
	if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("process %d still exists after Kill (err=%v)", pid, err)
	}
}

func pid(s *Server) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.proc.Pid
}

func TestRedisLifecycle(t *testing.T) {
	t.Parallel()
	s := Redis(t)
	if !strings.HasSuffix(s.Addr(), fmt.Sprint(":", s.Port())) {
		t.Fatalf("Addr %q does not end in Port %d", s.Addr(), s.Port())
	}
	if got := do(t, s.Addr(), "SET", "k", "v"); got != "OK" {
		t.Fatalf("SET = %v", got)
	}

	s.Stop()
	unresponsive(t, s.Addr())
	s.Cont()
	if got := do(t, s.Addr(), "GET", "k"); got != "v" {
		t.Fatalf("GET after Cont = %v, want v", got)
	}

	port, oldPid := s.Port(), pid(s)
	s.Kill()
	gone(t, oldPid)
	unresponsive(t, s.Addr())
	s.Restart()
	if s.Port() != port {
		t.Fatalf("Restart moved port %d -> %d", port, s.Port())
	}
	if got := do(t, s.Addr(), "GET", "k"); got != nil {
		t.Fatalf("GET after restart = %v, want nil (no persistence)", got)
	}
	s.Stop() // cleanup must continue and kill a stopped server
}

func TestRedisPassword(t *testing.T) {
	t.Parallel()
	s := Redis(t, WithPassword("s3cret"))
	_, err := respDo(s.Addr(), []string{"GET", "k"})
	if err == nil || !strings.Contains(err.Error(), "NOAUTH") {
		t.Fatalf("GET without AUTH: err = %v, want NOAUTH", err)
	}
	if _, err := respDo(s.Addr(), []string{"AUTH", "wrong"}); err == nil {
		t.Fatal("AUTH with a wrong password succeeded")
	}
	if err := pingRedis(s.Addr(), []string{"AUTH", "s3cret"}); err != nil {
		t.Fatalf("PING with password: %v", err)
	}
	s.Restart() // readiness probe must authenticate
}

func TestRedisACLUserAndArgs(t *testing.T) {
	t.Parallel()
	s := Redis(t, WithACLUser("app", "apppass"), WithArgs("--maxmemory", "10mb"))
	if err := pingRedis(s.Addr(), []string{"AUTH", "app", "apppass"}); err != nil {
		t.Fatalf("AUTH as ACL user: %v", err)
	}
	if _, err := respDo(s.Addr(), []string{"AUTH", "app", "nope"}); err == nil {
		t.Fatal("AUTH as ACL user with a wrong password succeeded")
	}
	got := do(t, s.Addr(), "CONFIG", "GET", "maxmemory")
	if a, ok := got.([]any); !ok || len(a) != 2 || a[1] != "10485760" {
		t.Fatalf("CONFIG GET maxmemory = %v, want 10485760", got)
	}
}

func TestMemcached(t *testing.T) {
	t.Parallel()
	s := Memcached(t)
	if err := memcachedVersion("tcp", s.Addr()); err != nil {
		t.Fatal(err)
	}
	s.Stop()
	conn, err := net.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	conn.SetDeadline(time.Now().Add(300 * time.Millisecond))
	conn.Write([]byte("version\r\n"))
	if _, err := conn.Read(make([]byte, 64)); err == nil {
		t.Fatal("stopped memcached answered")
	}
	conn.Close()
	s.Cont()
	oldPid := pid(s)
	s.Kill()
	gone(t, oldPid)
	if err := memcachedVersion("tcp", s.Addr()); err == nil {
		t.Fatal("killed memcached answered")
	}
	s.Restart()
	if err := memcachedVersion("tcp", s.Addr()); err != nil {
		t.Fatalf("after Restart: %v", err)
	}
}

func TestRedisCluster(t *testing.T) {
	t.Parallel()
	nodes := RedisCluster(t, 3)
	for _, n := range nodes {
		if err := clusterOK(n.Addr()); err != nil {
			t.Fatal(err)
		}
	}
	// "foo" hashes to slot 12182, owned by the third node.
	_, err := respDo(nodes[0].Addr(), []string{"SET", "foo", "bar"})
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("MOVED 12182 127.0.0.1:%d", nodes[2].Port())) {
		t.Fatalf("SET foo on node 0: err = %v, want MOVED to node 2", err)
	}
	if got := do(t, nodes[2].Addr(), "SET", "foo", "bar"); got != "OK" {
		t.Fatalf("SET foo on node 2 = %v", got)
	}
	// A restarted node rejoins from its nodes.conf.
	nodes[1].Restart()
	if err := poll(readyTimeout, nil, func() error { return clusterOK(nodes[1].Addr()) }); err != nil {
		t.Fatalf("after restart: %v", err)
	}
}

func TestRedisClusterSingleMaster(t *testing.T) {
	t.Parallel()
	nodes := RedisCluster(t, 1)
	if got := do(t, nodes[0].Addr(), "SET", "foo", "bar"); got != "OK" {
		t.Fatalf("SET = %v", got)
	}
}

func TestRedisSentinel(t *testing.T) {
	t.Parallel()
	master, sentinels := RedisSentinel(t, "mymaster")
	if len(sentinels) == 0 {
		t.Fatal("no sentinels")
	}
	for _, s := range sentinels {
		got := do(t, s.Addr(), "SENTINEL", "get-master-addr-by-name", "mymaster")
		want := []any{"127.0.0.1", fmt.Sprint(master.Port())}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("%s: master addr = %v, want %v", s, got, want)
		}
	}
	sentinels[0].Restart()
	if err := sentinelKnows(sentinels[0].Addr(), "mymaster"); err != nil {
		t.Fatalf("after Restart: %v", err)
	}
}

func TestMissingBinaryFails(t *testing.T) {
	if testing.Short() {
		t.Skip("servertest: under -short newServer skips before it looks for the binary; run without -short (scripts/test.sh)")
	}
	t.Parallel()
	msg := testutil.FatalMessage(t, func(tb testing.TB) { newServer(tb, "no-such-server-binary", false) })
	want := "servertest: no-such-server-binary not found in PATH; run scripts/install-deps.sh"
	if msg != want {
		t.Fatalf("Fatalf message = %q, want %q", msg, want)
	}
}

func TestStartFailureShowsLog(t *testing.T) {
	// Redis skips under -short, and Skip must not be called from
	// FatalMessage's goroutine: skip here instead.
	if testing.Short() {
		t.Skip("servertest: needs a redis-server process; run without -short (scripts/test.sh)")
	}
	t.Parallel()
	msg := testutil.FatalMessage(t, func(tb testing.TB) { Redis(tb, WithArgs("--no-such-directive", "x")) })
	if !strings.Contains(msg, "exited before ready") || !strings.Contains(msg, "no-such-directive") {
		t.Fatalf("Fatalf message lacks the exit and the server's log:\n%s", msg)
	}
}
