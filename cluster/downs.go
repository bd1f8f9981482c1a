package cluster

import (
	"sync"
	"sync/atomic"
	"time"
)

// downs remembers the peers whose transport just failed (connection
// refused or reset, no answer within CallTimeout), so that the requests
// that follow treat them at once as replicas that did not answer (route
// fails over, replicate goes to a stand-in) instead of each waiting for a
// dial or a timeout of its own, until gossip declares the peer dead. A
// peer counts as down for downFor after its last failure, unless it
// answers meanwhile. Skipping a live but slow peer costs what a timeout
// would have: the request is served on failover, as after one.
type downs struct {
	n     atomic.Int32             // entries in until: the hot path reads this alone
	mu    sync.Mutex               // guards until
	until map[string]time.Duration // peer address -> mono() until which it counts as down
}

// mark records a transport failure of addr at now.
func (d *downs) mark(addr string, until time.Duration) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.until == nil {
		d.until = map[string]time.Duration{}
	}
	if _, ok := d.until[addr]; !ok {
		d.n.Add(1)
	}
	d.until[addr] = until
}

// clear records that addr answered.
func (d *downs) clear(addr string) {
	if d.n.Load() == 0 {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.until[addr]; ok {
		delete(d.until, addr)
		d.n.Add(-1)
	}
}

// down reports whether addr failed less than downFor ago and has not
// answered since.
func (d *downs) down(addr string, now time.Duration) bool {
	if d.n.Load() == 0 {
		return false
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	until, ok := d.until[addr]
	if ok && now >= until {
		delete(d.until, addr)
		d.n.Add(-1)
		return false
	}
	return ok
}

// downFor is how long a peer whose transport failed is skipped: about the
// time failure detection takes, after which gossip knows better.
func (c *Config) downFor() time.Duration {
	return c.ProbeTimeout + time.Duration(c.SuspicionMult)*c.ProbeInterval
}
