package worker

import (
	"crypto/rand"
	"encoding/base64"
	"strings"
	"time"
)

// Config configures the workers of a Pool. The zero value is valid: demo
// workers with the demo's default store (memory, one per process).
type Config struct {
	// Env returns the extra environment ("KEY=VALUE") of one worker, given
	// its Spec; it is called again on every restart. Default: none.
	Env func(Spec) []string

	// Args are extra command-line flags for every worker, after -addr,
	// -admin and -name. Default: none.
	Args []string

	// ReadyTimeout bounds how long a worker may take from exec to a 200 on
	// /readyz. Default 30s (a cluster node pulls its partitions first).
	ReadyTimeout time.Duration

	// StopTimeout bounds how long Term waits for a graceful exit before it
	// kills the worker and fails the test. Default 30s.
	StopTimeout time.Duration
}

func (c *Config) setDefaults() {
	if c.ReadyTimeout == 0 {
		c.ReadyTimeout = 30 * time.Second
	}
	if c.StopTimeout == 0 {
		c.StopTimeout = 30 * time.Second
	}
}

// Spec describes one worker: what its environment and flags are made from.
type Spec struct {
	Index int    // position in the pool, from 0
	Name  string // "w0", "w1", ...: passed as -name, answered in X-Served-By
	Addr  string // HTTP "127.0.0.1:port": passed as -addr
	// AdminAddr is the admin listener's "127.0.0.1:port" (GET /cluster),
	// passed as -admin: the demo's default port would be shared by every
	// worker of the pool.
	AdminAddr string

	// ClusterAddr and PeerAddr are free loopback addresses for the
	// cluster's gossip (TCP and UDP) and peer transport. Only ClusterEnv
	// uses them; they are reserved for every worker so that any worker can
	// join the others.
	ClusterAddr string
	PeerAddr    string

	// Peers are the ClusterAddrs of the pool's other workers at the time
	// this worker (re)starts: its seeds.
	Peers []string
}

// ClusterEnv returns an Env that makes every worker a node of one cluster
// over the memory store: bound to its Spec's loopback ports, joining the
// other workers, with the given secret (see NewSecret). extra is appended,
// e.g. "SESSIONS_CLUSTER_REPLICAS=2".
func ClusterEnv(secret string, extra ...string) func(Spec) []string {
	return func(s Spec) []string {
		env := []string{
			"SESSIONS_STORE=memory",
			"SESSIONS_CLUSTER_BIND=" + s.ClusterAddr,
			"SESSIONS_CLUSTER_PEER_BIND=" + s.PeerAddr,
			"SESSIONS_CLUSTER_SECRET=" + secret,
		}
		if len(s.Peers) > 0 {
			env = append(env, "SESSIONS_CLUSTER_JOIN="+strings.Join(s.Peers, ","))
		}
		return append(env, extra...)
	}
}

// NewSecret returns a fresh cluster secret: base64 of 32 random bytes.
func NewSecret() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return base64.StdEncoding.EncodeToString(b)
}
