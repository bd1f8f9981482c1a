package cluster

import (
	"context"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/sessionmesh/sessionmesh/cluster/peer"
)

func TestPeerErrorKind(t *testing.T) {
	timeout := &net.OpError{Op: "read", Err: timeoutErr{}}
	for _, tc := range []struct {
		err  error
		want string
	}{
		{fmt.Errorf("call: %w: connection refused", peer.ErrUnavailable), "connection"},
		{fmt.Errorf("call: %w: %w", peer.ErrUnavailable, context.DeadlineExceeded), "timeout"},
		{fmt.Errorf("call: %w: %w", peer.ErrUnavailable, timeout), "timeout"},
		{fmt.Errorf("call: %w: %w", peer.ErrUnavailable, peer.ErrAuth), "auth"},
		{fmt.Errorf("call: %w: %w", peer.ErrUnavailable, peer.ErrProtocol), "protocol"},
		{peer.ErrFrameTooLarge, "protocol"},
		{peer.ErrClosed, "other"},
	} {
		if got := PeerErrorKinds[peerErrorKind(tc.err)]; got != tc.want {
			t.Errorf("peerErrorKind(%v) = %s, want %s", tc.err, got, tc.want)
		}
	}
	var c counters
	c.notePeerError(peer.Errorf(codeNotOwner, "not mine")) // an answer: not counted
	for i := range c.peerErrors {
		if n := c.peerErrors[i].Load(); n != 0 {
			t.Errorf("a remote error counted as a %s peer error", PeerErrorKinds[i])
		}
	}
}

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

// Each duration lands in the first bucket whose bound it does not exceed;
// beyond the last bound, in the extra bucket.
func TestLatencyBuckets(t *testing.T) {
	var l latency
	for _, d := range []time.Duration{0, 100 * time.Microsecond, 101 * time.Microsecond, time.Millisecond, time.Second, time.Hour} {
		l.observe(d)
	}
	h := l.snapshot()
	want := make([]uint64, len(latencyBounds)+1)
	want[0], want[1], want[3], want[len(latencyBounds)-1], want[len(latencyBounds)] = 2, 1, 1, 1, 1
	if fmt.Sprint(h.Counts) != fmt.Sprint(want) || h.Count != 6 {
		t.Errorf("buckets %v (count %d), want %v (count 6)", h.Counts, h.Count, want)
	}
	if sum := 201*time.Microsecond + time.Millisecond + time.Second + time.Hour; h.Sum != sum {
		t.Errorf("sum %v, want %v", h.Sum, sum)
	}
}
