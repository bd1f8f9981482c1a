package servertest

import (
	"bufio"
	"fmt"
	"net"
	"os"
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
	s.ready = func(s *Server) error { return memcachedVersion(s.Addr()) }
	s.launch()
	return s
}

// memcachedVersion sends "version" and expects "VERSION ...".
func memcachedVersion(addr string) error {
	conn, err := net.DialTimeout("tcp", addr, time.Second)
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
