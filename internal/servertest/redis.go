package servertest

import (
	"fmt"
	"strconv"
	"testing"
)

// RedisOption configures a server started by Redis.
type RedisOption func(*redisConfig)

type redisConfig struct {
	password string   // requirepass, for the default user
	user     string   // extra ACL user
	userPass string   // its password
	extra    []string // extra command-line arguments
}

// WithPassword sets requirepass: clients must AUTH with this password.
func WithPassword(password string) RedisOption {
	return func(c *redisConfig) { c.password = password }
}

// WithACLUser adds an ACL user with full access
// ("user NAME on >PASS ~* &* +@all"). Neither may contain spaces.
func WithACLUser(name, password string) RedisOption {
	return func(c *redisConfig) { c.user, c.userPass = name, password }
}

// WithArgs appends raw redis-server arguments, e.g. "--maxmemory", "10mb".
func WithArgs(args ...string) RedisOption {
	return func(c *redisConfig) { c.extra = append(c.extra, args...) }
}

// Redis starts a redis-server on a free loopback port, with no persistence
// and its data dir in a temp dir, and waits until it answers PING
// (authenticating when WithPassword or WithACLUser is given).
func Redis(t testing.TB, opts ...RedisOption) *Server {
	t.Helper()
	var c redisConfig
	for _, o := range opts {
		o(&c)
	}
	s := newServer(t, "redis-server", false)
	s.args = func(s *Server) []string { return append(redisBaseArgs(s), c.args()...) }
	auth := c.auth()
	s.ready = func(s *Server) error { return pingRedis(s.Addr(), auth) }
	s.launch()
	return s
}

func redisBaseArgs(s *Server) []string {
	return []string{"--port", strconv.Itoa(s.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", s.dir}
}

func (c redisConfig) args() []string {
	var a []string
	if c.password != "" {
		a = append(a, "--requirepass", c.password)
	}
	if c.user != "" {
		a = append(a, "--user", c.user, "on", ">"+c.userPass, "~*", "&*", "+@all")
	}
	return append(a, c.extra...)
}

// auth returns the AUTH command that readiness probes send, or nil.
func (c redisConfig) auth() []string {
	switch {
	case c.password != "":
		return []string{"AUTH", c.password}
	case c.user != "":
		return []string{"AUTH", c.user, c.userPass}
	}
	return nil
}

// pingRedis sends PING (after AUTH if auth is non-nil) and expects PONG.
func pingRedis(addr string, auth []string) error {
	cmds := [][]string{{"PING"}}
	if auth != nil {
		cmds = [][]string{auth, {"PING"}}
	}
	reply, err := respDo(addr, cmds...)
	if err != nil {
		return err
	}
	if reply != "PONG" {
		return fmt.Errorf("%s: PING replied %v", addr, reply)
	}
	return nil
}
