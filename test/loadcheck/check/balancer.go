package check

import (
	"sync"
	"sync/atomic"
	"time"
)

// balancer is the client-side load balancer every user shares: round-robin
// over the workers, with a passive health check like nginx's max_fails=1 and
// fail_timeout: a worker whose attempt failed is skipped for cooldown, then
// tried again by the next request that reaches it.
type balancer struct {
	n        int
	cooldown time.Duration
	now      func() time.Time
	next     atomic.Uint64

	mu        sync.Mutex  // guards downUntil
	downUntil []time.Time // per worker: skip it until then
}

func newBalancer(n int, cooldown time.Duration, now func() time.Time) *balancer {
	return &balancer{n: n, cooldown: cooldown, now: now, downUntil: make([]time.Time, n)}
}

// pick returns the next worker in round-robin order that is not cooling
// down. When every worker is cooling down it returns the next one anyway: a
// balancer with no healthy backend still has to try one.
func (b *balancer) pick() int {
	start := int(b.next.Add(1)-1) % b.n
	now := b.now()
	b.mu.Lock()
	defer b.mu.Unlock()
	for i := range b.n {
		w := (start + i) % b.n
		if !now.Before(b.downUntil[w]) {
			return w
		}
	}
	return start
}

// markDown makes pick skip worker w for the cooldown.
func (b *balancer) markDown(w int) {
	until := b.now().Add(b.cooldown)
	b.mu.Lock()
	b.downUntil[w] = until
	b.mu.Unlock()
}
