package cluster

import (
	"testing"
	"time"

	"github.com/sessionmesh/sessionmesh/session"
)

func copyOf(version uint64, touched int, value string) *session.Record {
	t0 := time.Unix(1700000000, 0)
	return &session.Record{ID: "s", Values: map[string][]byte{"k": []byte(value)}, Created: t0,
		Touched: t0.Add(time.Duration(touched) * time.Second), Idle: t0.Add(time.Hour), Version: version}
}

// Which copy wins decides how replicas converge: every node must pick the
// same one, whichever it holds and whichever arrives.
func TestWhichCopyWins(t *testing.T) {
	for _, tc := range []struct {
		name     string
		a, b     *session.Record
		wins     bool // a beats b
		diverged bool // the loser held a write the winner lacks
	}{
		{"higher version", copyOf(3, 0, "x"), copyOf(2, 0, "x"), true, false},
		{"lower version", copyOf(2, 0, "x"), copyOf(3, 0, "x"), false, false},
		{"lower version touched later: a write the winner lacks", copyOf(2, 9, "x"), copyOf(3, 1, "y"), false, true},
		{"equal version, later touched", copyOf(4, 2, "x"), copyOf(4, 1, "y"), true, true},
		{"equal version and touched, larger encoding", copyOf(4, 1, "z"), copyOf(4, 1, "y"), true, true},
		{"equal version and touched, smaller encoding", copyOf(4, 1, "a"), copyOf(4, 1, "y"), false, true},
		{"the same copy", copyOf(4, 1, "y"), copyOf(4, 1, "y"), false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := wins(tc.a, tc.b); got != tc.wins {
				t.Errorf("wins = %t; want %t", got, tc.wins)
			}
			if got := winsBinary(anonymous(tc.a), anonymous(tc.b)); got != tc.wins {
				t.Errorf("winsBinary = %t; want %t (as wins)", got, tc.wins)
			}
			if tc.wins && wins(tc.b, tc.a) {
				t.Error("both copies win")
			}
			winner, loser := tc.b, tc.a
			if tc.wins {
				winner, loser = tc.a, tc.b
			}
			if got := diverged(loser, winner); got != tc.diverged {
				t.Errorf("diverged = %t; want %t", got, tc.diverged)
			}
			got := divergedBinary(anonymous(loser), anonymous(winner), winner)
			if (got != nil) != tc.diverged || got != nil && got.Version != loser.Version {
				t.Errorf("divergedBinary = %+v; want the loser when diverged (%t)", got, tc.diverged)
			}
		})
	}
	if good := anonymous(copyOf(1, 0, "x")); !winsBinary(good, []byte("garbage")) || winsBinary([]byte("garbage"), good) {
		t.Error("a copy that does not decode beat a good one")
	}
}

// A tombstone buries a session with the next version, until the buried
// record's deadline, and its Touched never goes back.
func TestTombstone(t *testing.T) {
	rec := copyOf(7, 30, "x")
	now := rec.Touched.Add(time.Minute)
	g := tombstone(*rec, now)
	if !isTombstone(&g) || isTombstone(rec) {
		t.Fatal("isTombstone does not tell a tombstone from a session")
	}
	if g.Version != 8 || !g.Touched.Equal(now) || !g.Deadline().Equal(rec.Deadline()) || len(g.Values) != 0 {
		t.Fatalf("tombstone = %+v; want version 8, touched now, the record's deadline, no values", g)
	}
	if !wins(&g, rec) {
		t.Fatal("the tombstone does not beat the record it buries")
	}
	if early := tombstone(*rec, rec.Touched.Add(-time.Minute)); !early.Touched.Equal(rec.Touched) {
		t.Fatalf("a tombstone made by a clock behind the record is touched %v; want the record's %v", early.Touched, rec.Touched)
	}
}
