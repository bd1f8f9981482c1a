package peer

import (
	"strings"
	"testing"
)

func TestGate(t *testing.T) {
	g := newGate(3, 2)
	steps := []struct {
		enter, leave string
		refused      string // part of the reason; "" admitted
	}{
		{enter: "a"},
		{enter: "a"},
		{enter: "a", refused: "MaxHandshakesPerIP is 2"},
		{enter: "b"},
		{enter: "c", refused: "MaxHandshakes is 3"},
		{leave: "a"},
		{enter: "c"},
		{enter: "b", refused: "MaxHandshakes is 3"},
		{leave: "b"},
		{leave: "c"},
		{enter: "b"},
		{enter: "b"},
		{enter: "d", refused: "3 handshakes in progress"},
	}
	for i, st := range steps {
		if st.leave != "" {
			g.leave(st.leave)
			continue
		}
		err := g.enter(st.enter)
		switch {
		case st.refused == "" && err != nil:
			t.Fatalf("step %d: %s refused: %v", i, st.enter, err)
		case st.refused != "" && (err == nil || !strings.Contains(err.Error(), st.refused)):
			t.Fatalf("step %d: %s: got %v, want a refusal naming %q", i, st.enter, err, st.refused)
		}
	}
	if total, a := g.counts("a"); total != 3 || a != 1 {
		t.Fatalf("counts: total %d, from a %d; want 3 and 1", total, a)
	}
	for _, ip := range []string{"a", "b", "b"} {
		g.leave(ip)
	}
	if total, _ := g.counts(""); total != 0 || len(g.byIP) != 0 {
		t.Fatalf("after every leave: total %d, byIP %v", total, g.byIP)
	}
}

// counts returns the handshakes in progress, in all and from ip.
func (g *gate) counts(ip string) (total, fromIP int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.total, g.byIP[ip]
}
