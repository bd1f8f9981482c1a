package cluster

import (
	"testing"
	"time"

	"github.com/sessionmesh/sessionmesh/internal/engine"
)

// A round's scan pauses between two of the engine's shards (spread), but
// a closing store does not wait its pauses out: Close waits for the round,
// and would otherwise take up to a tenth of AntiEntropyInterval.
func TestSpreadEndsWhenTheStoreCloses(t *testing.T) {
	cfg := DefaultLocalConfig().withDefaults()
	cfg.Logger = discardLogger()
	cfg.AntiEntropyInterval = time.Hour // a pause of 5.6 s
	s := stepNode(t, cfg, "a", &fakeCaller{}, Member{Name: "a", Addr: "a:1"})
	pause := s.spread()
	s.cancelBg() // what Close does before it waits for the loops
	start := time.Now()
	pause()
	if took, full := time.Since(start), cfg.AntiEntropyInterval/10/engine.DefaultShards; took > full/2 {
		t.Fatalf("a pause of a closing store took %v; want it to end at once, not after %v", took, full)
	}
}
