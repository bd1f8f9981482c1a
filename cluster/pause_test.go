package cluster

import (
	"testing"
	"time"
)

// What a pending pause check does with what the members answered.
func TestNextPauseStep(t *testing.T) {
	for _, tc := range []struct {
		name      string
		resyncing bool
		others    int
		answers   seenAnswers
		want      pauseStep
	}{
		{"nobody answers yet", false, 2, seenAnswers{counted: true}, pauseAskAgain},
		{"nobody lost sight of it", false, 2, seenAnswers{heard: true, counted: true}, pauseClear},
		{"alone in the table, nobody to ask", false, 0, seenAnswers{counted: true}, pauseClear},
		{"a member lost sight of it", false, 2, seenAnswers{heard: true, lost: true}, pauseResync},
		{"resyncing, not every member counts it yet", true, 2, seenAnswers{heard: true, lost: true}, pauseAskAgain},
		{"resyncing, nobody answers", true, 2, seenAnswers{counted: true}, pauseAskAgain},
		{"resyncing, every member counts it again", true, 2, seenAnswers{heard: true, lost: true, counted: true}, pauseRepull},
	} {
		if got := nextPauseStep(tc.resyncing, tc.others, tc.answers); got != tc.want {
			t.Errorf("%s: nextPauseStep = %d; want %d", tc.name, got, tc.want)
		}
	}
}

// How the members' answers to opSeen add up.
func TestTallySeen(t *testing.T) {
	const gap, print = 5 * time.Second, 42
	kept := seenReply{memberFor: time.Minute, print: print}
	for _, tc := range []struct {
		name     string
		replies  []seenReply
		answered []bool
		want     seenAnswers
	}{
		{"none answered", []seenReply{{}, {}}, []bool{false, false}, seenAnswers{counted: true}},
		{"all kept it", []seenReply{kept, kept}, []bool{true, true}, seenAnswers{heard: true, counted: true}},
		{"one silent, one kept it", []seenReply{{}, kept}, []bool{false, true}, seenAnswers{heard: true, counted: true}},
		{"one re-added it during the gap", []seenReply{kept, {memberFor: time.Second, print: print}}, []bool{true, true},
			seenAnswers{heard: true, lost: true, counted: true}},
		{"one does not count it", []seenReply{kept, {}}, []bool{true, true}, seenAnswers{heard: true, lost: true}},
		{"one counts it with another table", []seenReply{kept, {memberFor: time.Minute, print: 7}}, []bool{true, true},
			seenAnswers{heard: true}},
	} {
		if got := tallySeen(tc.replies, tc.answered, gap, print); got != tc.want {
			t.Errorf("%s: tallySeen = %+v; want %+v", tc.name, got, tc.want)
		}
	}
}

// How long a node has been a member (what opSeen answers, compared with a
// pause measured on the monotonic clock) is measured on that clock too,
// not on Config.Now: an injected or stepped wall clock must not make a
// member look freshly added, which a pause check reads as "lost sight of
// it" (it then drops every partition and pulls them again).
func TestMemberForUsesTheMonotonicClock(t *testing.T) {
	cfg := DefaultLocalConfig().withDefaults()
	frozen := time.Unix(1700000000, 0)
	cfg.Now = func() time.Time { return frozen }
	cfg.Logger = discardLogger()
	var mono time.Duration
	m := newMembership(cfg, "a", func() time.Duration { return mono }, nil, nil)
	m.mu.Lock()
	m.applyLocked("b", nodeMeta{Version: metaVersion, Peer: "b:1"})
	m.mu.Unlock()
	mono += 10 * time.Second
	if got := m.memberFor("b"); got != 10*time.Second {
		t.Fatalf("memberFor = %v after 10s on the monotonic clock (wall clock frozen); want 10s", got)
	}
	if got := m.memberFor("c"); got != 0 {
		t.Fatalf("memberFor of a stranger = %v; want 0", got)
	}
}
