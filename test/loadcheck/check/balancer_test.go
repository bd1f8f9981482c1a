package check

import (
	"testing"
	"time"

	"github.com/sessionmesh/sessionmesh/stores/storetest"
)

func picks(b *balancer, n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = b.pick()
	}
	return out
}

func equal(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestBalancerRoundRobin(t *testing.T) {
	clock := storetest.NewClock(time.Unix(1000, 0))
	b := newBalancer(3, time.Second, clock.Now)
	if got, want := picks(b, 6), []int{0, 1, 2, 0, 1, 2}; !equal(got, want) {
		t.Fatalf("picks = %v, want %v", got, want)
	}
}

func TestBalancerSkipsFailedWorkerForCooldown(t *testing.T) {
	clock := storetest.NewClock(time.Unix(1000, 0))
	b := newBalancer(3, time.Second, clock.Now)
	b.markDown(1)
	if got, want := picks(b, 4), []int{0, 2, 2, 0}; !equal(got, want) {
		t.Fatalf("picks while 1 cools down = %v, want %v", got, want)
	}
	clock.Advance(time.Second)
	if got, want := picks(b, 3), []int{1, 2, 0}; !equal(got, want) {
		t.Fatalf("picks after the cooldown = %v, want %v", got, want)
	}
}

func TestBalancerAllDownStillPicks(t *testing.T) {
	clock := storetest.NewClock(time.Unix(1000, 0))
	b := newBalancer(2, time.Second, clock.Now)
	b.markDown(0)
	b.markDown(1)
	if got, want := picks(b, 3), []int{0, 1, 0}; !equal(got, want) {
		t.Fatalf("picks with every worker down = %v, want %v", got, want)
	}
}
