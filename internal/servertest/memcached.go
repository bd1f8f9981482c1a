package servertest

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Memcached starts memcached on a free loopback port (TCP only) and waits
// until it answers "version". As root it runs with -u root, since
// memcached refuses to run as root without -u.
func Memcached(t testing.TB) *Server {
	t.Helper()
	s := newServer(t, "memcached", false)
	s.args = func(s *Server) []string {
		a := []string{"-l", "127.0.0.1", "-p", strconv.Itoa(s.port), "-U", "0"}
		if os.Geteuid() == 0 {
			a = append(a, "-u", "root")
		}
		return a
	}
	s.ready = func(s *Server) error { return memcachedVersion("tcp", s.Addr()) }
	s.launch()
	return s
}

// MemcachedUnix starts memcached listening on a Unix socket only and
// returns the socket's path, once it answers "version" there.
func MemcachedUnix(t testing.TB) string {
	t.Helper()
	// Short: a socket path has a limit of 108 bytes, and t.TempDir's
	// names grow with the test's.
	dir, err := os.MkdirTemp("", "mc")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	path := filepath.Join(dir, "memcached.sock")
	s := newServer(t, "memcached", false)
	s.args = func(*Server) []string {
		a := []string{"-s", path, "-a", "0600"}
		if os.Geteuid() == 0 {
			a = append(a, "-u", "root")
		}
		return a
	}
	s.ready = func(*Server) error { return memcachedVersion("unix", path) }
	s.launch()
	return path
}

// memcachedVersion sends "version" and expects "VERSION ...".
func memcachedVersion(network, addr string) error {
	conn, err := net.DialTimeout(network, addr, time.Second)
	if err != nil {
		return err
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(2 * time.Second)); err != nil {
		return err
	}
	if _, err := conn.Write([]byte("version\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return err
	}
	if !strings.HasPrefix(line, "VERSION ") {
		return fmt.Errorf("%s: version replied %q", addr, line)
	}
	return nil
}
