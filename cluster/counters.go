package cluster

import (
	"context"
	"errors"
	"net"
	"sync/atomic"
	"time"

	"github.com/sessionmesh/sessionmesh/cluster/peer"
)

// counters are what a node counts for its operators (Stats), beside the
// counters that existed before them (conflicts, evictions, refused). Each
// is one atomic add where the work happens: no lock, no allocation, so
// they may sit on the request path.
type counters struct {
	replication      latency       // replicate's round trips to the other owners
	pulledPartitions atomic.Uint64 // partitions pulled and then held (transfer.go)
	pulledSessions   atomic.Uint64 // sessions the sources streamed in those pulls
	handedOff        atomic.Uint64 // sessions handed to their owners and dropped here
	keptCopies       atomic.Uint64 // saves whose copy this backup kept from the primary's answer (flagKeep)
	repairs          atomic.Uint64 // partitions anti-entropy found different and exchanged
	leaseReads       atomic.Uint64 // loads this backup served from its own copy under a read lease (leases.go)
	leaseRevocations atomic.Uint64 // read leases this primary ended before a write its lessee lacked (leases.go)
	peerErrors       [numPeerErrorKinds]atomic.Uint64
}

// Kinds of failed peer calls (Stats.PeerErrors), told apart by the
// transport's sentinels. A remote error (the peer answered "not owner",
// "not found", ...) is an answer, not counted here.
const (
	peerErrConnection = iota // refused, reset, closed
	peerErrTimeout           // no answer within the call's deadline
	peerErrAuth              // the peer does not hold the same secret
	peerErrProtocol          // the peer sent something that is not this protocol
	peerErrOther
	numPeerErrorKinds
)

// PeerErrorKinds names the kinds of Stats.PeerErrors, in its order.
var PeerErrorKinds = [numPeerErrorKinds]string{"connection", "timeout", "auth", "protocol", "other"}

// notePeerError counts a failed peer call by kind.
func (c *counters) notePeerError(err error) {
	var re *peer.RemoteError
	if errors.As(err, &re) {
		return
	}
	c.peerErrors[peerErrorKind(err)].Add(1)
}

func peerErrorKind(err error) int {
	var ne net.Error
	switch {
	case errors.Is(err, peer.ErrAuth):
		return peerErrAuth
	case errors.Is(err, peer.ErrProtocol), errors.Is(err, peer.ErrFrameTooLarge):
		return peerErrProtocol
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return peerErrTimeout
	case errors.Is(err, peer.ErrUnavailable):
		return peerErrConnection
	}
	return peerErrOther
}

// latencyBounds are the upper bounds of latency's buckets: a replication
// round trip on loopback takes some 30-100 us, one across a busy network
// milliseconds; beyond a second it is a timeout.
var latencyBounds = [...]time.Duration{
	100 * time.Microsecond, 250 * time.Microsecond, 500 * time.Microsecond,
	time.Millisecond, 2500 * time.Microsecond, 5 * time.Millisecond,
	10 * time.Millisecond, 25 * time.Millisecond, 50 * time.Millisecond,
	100 * time.Millisecond, 250 * time.Millisecond, time.Second,
}

// latency is a histogram of durations made of atomic counters, so that
// observing one costs a few compares and two atomic adds.
type latency struct {
	buckets [len(latencyBounds) + 1]atomic.Uint64 // the last one: beyond every bound
	sum     atomic.Int64                          // nanoseconds
}

// since observes the time since start.
func (l *latency) since(start time.Time) { l.observe(time.Since(start)) }

// observe adds d to the bucket of the first bound d does not exceed.
func (l *latency) observe(d time.Duration) {
	i := 0
	for i < len(latencyBounds) && d > latencyBounds[i] {
		i++
	}
	l.buckets[i].Add(1)
	l.sum.Add(int64(d))
}

// snapshot returns the histogram (its counts per bucket, not cumulative).
func (l *latency) snapshot() Latency {
	h := Latency{Bounds: latencyBounds[:], Counts: make([]uint64, len(l.buckets))}
	for i := range l.buckets {
		h.Counts[i] = l.buckets[i].Load()
		h.Count += h.Counts[i]
	}
	h.Sum = time.Duration(l.sum.Load())
	return h
}

// Latency is a histogram of durations in Stats.
type Latency struct {
	Bounds []time.Duration // upper bounds of the buckets, ascending
	// Counts has one count per bucket (not cumulative), plus a last one
	// for the durations beyond every bound.
	Counts []uint64
	Count  uint64        // all observations
	Sum    time.Duration // their total
}
