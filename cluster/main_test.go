package cluster_test

import (
	"testing"

	"go.uber.org/goleak"
)

// memberlistIndirectPing is a goroutine memberlist starts for an indirect
// probe and does not stop on Shutdown; it ends by itself after
// ProbeTimeout, so a test that stops nodes right after one would see it.
const memberlistIndirectPing = "github.com/hashicorp/memberlist.(*Memberlist).handleIndirectPing.func2"

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction(memberlistIndirectPing))
}
