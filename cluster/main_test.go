package cluster_test

import (
	"testing"

	"go.uber.org/goleak"
)

// memberlist's Shutdown does not wait for a probe in progress (its timer
// goroutine) or for an indirect probe it answers for another node; both
// end by themselves within the TCP fallback timeout, so the last test's
// nodes can leave one behind. A node not shut down at all still shows up
// through memberlist's listeners, which are not ignored.
var memberlistStragglers = []goleak.Option{
	goleak.IgnoreAnyFunction("github.com/hashicorp/memberlist.(*Memberlist).triggerFunc"),
	goleak.IgnoreTopFunction("github.com/hashicorp/memberlist.(*Memberlist).handleIndirectPing.func2"),
}

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, memberlistStragglers...)
}
