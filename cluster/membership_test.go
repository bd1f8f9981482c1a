package cluster

import (
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionmesh/sessionmesh/internal/testutil"
)

// frozenClock is a clock that moves only when the test says so.
type frozenClock struct{ at atomic.Int64 }

func newFrozenClock() *frozenClock {
	c := &frozenClock{}
	c.at.Store(time.Unix(1_000_000, 0).UnixNano())
	return c
}

func (c *frozenClock) now() time.Time          { return time.Unix(0, c.at.Load()) }
func (c *frozenClock) advance(d time.Duration) { c.at.Add(int64(d)) }

// records counts the log records of the given level (slog's text form).
func records(logs *testutil.Buffer, level string) int {
	return strings.Count(logs.String(), "level="+level+" ")
}

// Memberlist logs every gossip packet that does not decrypt at [ERR];
// garbage lines at every level stay within the burst of their level, and
// the next period's first record counts what was held back.
func TestGossipLogLinesAreLimited(t *testing.T) {
	var logs testutil.Buffer
	clock := newFrozenClock()
	w := newLogWriter(slog.New(slog.NewTextHandler(&logs, nil)), clock.now)
	for i := range 2000 {
		fmt.Fprintf(w, "[ERR] memberlist: Decrypt packet failed: unsupported encryption version %d from=10.0.0.%d:7946\n", i%256, i%256)
		fmt.Fprintf(w, "[WARN] memberlist: Was able to connect to n%d over TCP but UDP probes failed\n", i)
	}
	if n := records(&logs, "ERROR"); n != gossipLogBurst {
		t.Fatalf("2000 decrypt failures wrote %d ERROR records; want the burst, %d", n, gossipLogBurst)
	}
	if n := records(&logs, "WARN"); n != gossipLogBurst {
		t.Fatalf("the flood of errors left %d WARN records of %d; want the burst, %d (a level of its own)", n, 2000, gossipLogBurst)
	}
	clock.advance(gossipLogPeriod)
	fmt.Fprintf(w, "[ERR] memberlist: Decrypt packet failed: once more\n")
	if want := fmt.Sprintf("suppressed=%d", 2000-gossipLogBurst); !strings.Contains(logs.String(), `once more" `+want) {
		t.Fatalf("the next period's record does not say %s:\n%s", want, logs.String()[max(0, len(logs.String())-500):])
	}
}

// 2000 garbage UDP packets sent to a real memberlist node (the audit's
// reproduction of M1, which wrote 2,023 ERROR lines in 0.07 s) write at
// most the burst: the clock is frozen, so they all fall in one period.
func TestGossipGarbageFloodIsLimited(t *testing.T) {
	var logs testutil.Buffer
	clock := newFrozenClock()
	cfg := DefaultLocalConfig()
	cfg.Secret = []byte("0123456789abcdef0123456789abcdef")
	cfg.Now = clock.now
	cfg.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	cfg = cfg.withDefaults()
	m := startGossipOnly(t, cfg)

	conn, err := net.Dial("udp", m.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	rng := rand.New(rand.NewPCG(1, 2))
	packet := make([]byte, 200)
	const flood, chunk = 2000, 100
	for sent := 0; sent < flood; {
		// In chunks, each waited for: loopback drops UDP packets that
		// overflow the socket buffer, and every one must be seen.
		for range chunk {
			for i := range packet {
				packet[i] = byte(rng.Uint32())
			}
			if _, err := conn.Write(packet); err != nil {
				t.Fatal(err)
			}
		}
		sent += chunk
		testutil.Eventually(t, 10*time.Second, fmt.Sprintf("memberlist to log %d garbage packets", sent), func() bool {
			return records(&logs, "ERROR")+int(suppressed(m.gossipLog)) >= sent
		})
	}
	if n := records(&logs, "ERROR"); n > gossipLogBurst {
		t.Fatalf("%d garbage packets wrote %d ERROR records; want at most the burst, %d", flood, n, gossipLogBurst)
	}
	if !strings.Contains(logs.String(), "Decrypt packet failed") && !strings.Contains(logs.String(), "label") {
		t.Fatalf("no record says what was wrong with the packets:\n%s", logs.String())
	}
}

// startGossipOnly starts the memberlist node of a membership, with no
// peer server and no store loops; it is shut down at the end of the test.
func startGossipOnly(t *testing.T, cfg Config) *membership {
	t.Helper()
	m := newMembership(cfg, newNodeName("gossip"), func() time.Duration { return 0 }, nil, nil)
	tr, err := newGossipTransport(&cfg, m.gossipLogger())
	if err != nil {
		t.Fatal(err)
	}
	adv, err := resolveAdvertise(&cfg, tr)
	if err != nil {
		tr.Shutdown()
		t.Fatal(err)
	}
	if err := m.start(tr, adv, "127.0.0.1:1", deriveKeys(cfg.secrets(), "gossip")); err != nil {
		tr.Shutdown()
		t.Fatal(err)
	}
	t.Cleanup(func() { m.shutdown() })
	return m
}

func TestPlausibleSeq(t *testing.T) {
	for _, tc := range []struct {
		known, got uint64
		want       bool
	}{
		{0, 1, true},
		{5, 6, true},
		{5, 3, true}, // older: ignored by applyLocked, not an error
		{0, maxSeqStep, true},
		{0, maxSeqStep + 1, false},
		{0, 1 << 62, false}, // the audit's forged notice
		{1<<64 - 1, 0, true},
		{1<<64 - 10, 1<<64 - 1, true},
	} {
		if got := plausibleSeq(tc.known, tc.got); got != tc.want {
			t.Errorf("plausibleSeq(%d, %d) = %v, want %v", tc.known, tc.got, got, tc.want)
		}
	}
}

// suppressed returns how many lines w's limits held back since the start.
func suppressed(w *logWriter) uint64 {
	var n uint64
	for _, l := range w.levels {
		n += l.Suppressed()
	}
	return n
}
