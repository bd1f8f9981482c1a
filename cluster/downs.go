package cluster

import (
	"context"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sessionmesh/sessionmesh/cluster/peer"
)

// downs remembers the members whose connection just failed (refused,
// reset or closed: the process is gone, or the network says so), so that
// the requests route sends next fail over at once instead of each paying
// a failed dial of its own, until gossip declares the member dead. A
// member counts as down for downFor after its last failure, unless it
// answers meanwhile. A timeout marks nothing: on a loaded machine a live
// member is slow, not gone. Members are known by name, which a restarted
// worker never reuses, so a new process at the old address is not taken
// for the dead one. Replication (put) never skips a member: a failover
// primary must still copy its writes to a primary that may be alive.
type downs struct {
	n     atomic.Int32             // entries in until: the hot path reads this alone
	mu    sync.Mutex               // guards until
	until map[string]time.Duration // member name -> mono() until which it counts as down
}

// mark records that name's connection failed; it counts as down until
// until.
func (d *downs) mark(name string, until time.Duration) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.until == nil {
		d.until = map[string]time.Duration{}
	}
	if _, ok := d.until[name]; !ok {
		d.n.Add(1)
	}
	d.until[name] = until
}

// clear records that name answered at now, and forgets every entry that
// has expired (a member that died is never asked again, so its entry
// would otherwise keep the lock on every call's path).
func (d *downs) clear(name string, now time.Duration) {
	if d.n.Load() == 0 {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	for other, until := range d.until {
		if other == name || now >= until {
			delete(d.until, other)
			d.n.Add(-1)
		}
	}
}

// down reports whether name's connection failed less than downFor ago
// and it has not answered since.
func (d *downs) down(name string, now time.Duration) bool {
	if d.n.Load() == 0 {
		return false
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	until, ok := d.until[name]
	if ok && now >= until {
		delete(d.until, name)
		d.n.Add(-1)
		return false
	}
	return ok
}

// connectionFailed reports whether err says the connection to a member
// failed (refused, reset, closed, unreachable) rather than that it was
// slow: a timeout or the caller's context ending is not a failure of the
// member.
func connectionFailed(err error) bool {
	if err == nil {
		return false // before ne: it escapes, one allocation per call
	}
	var ne net.Error
	return errors.Is(err, peer.ErrUnavailable) && !errors.Is(err, context.DeadlineExceeded) &&
		!errors.Is(err, context.Canceled) && !(errors.As(err, &ne) && ne.Timeout())
}

// downFor is how long a member whose connection failed is skipped: about the
// time failure detection takes, after which gossip knows better.
func (c *Config) downFor() time.Duration {
	return c.ProbeTimeout + time.Duration(c.SuspicionMult)*c.ProbeInterval
}
