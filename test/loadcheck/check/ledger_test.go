package check

import "testing"

// event is one answer a user got: a write acknowledged with a value, a read
// of a value, or a write that failed.
type event struct {
	kind  byte // 'w' ack, 'r' read, 'f' failed write
	value int
}

func replay(events []event) ledger {
	var l ledger
	for _, e := range events {
		switch e.kind {
		case 'w':
			l.ackWrite(e.value)
		case 'r':
			l.observe(e.value)
		case 'f':
			l.unanswered(1)
		}
	}
	return l
}

func TestLedger(t *testing.T) {
	tests := []struct {
		name        string
		events      []event
		acked, lost int
		sessionLost bool
		unexpected  int
	}{
		{"nothing", nil, 0, 0, false, 0},
		{"reads of an empty session", []event{{'r', 0}, {'r', 0}}, 0, 0, false, 0},
		{"monotonic", []event{{'w', 1}, {'r', 1}, {'w', 2}, {'w', 3}, {'r', 3}}, 3, 0, false, 0},
		{"read below last write", []event{{'w', 1}, {'w', 2}, {'w', 3}, {'r', 1}}, 3, 2, false, 0},
		{"write answering a reused value", []event{{'w', 1}, {'w', 2}, {'w', 2}}, 3, 1, false, 0},
		{"session gone on read", []event{{'w', 1}, {'w', 2}, {'r', 0}}, 2, 2, true, 0},
		{"session restarted on write", []event{{'w', 1}, {'w', 2}, {'w', 1}, {'w', 2}, {'r', 2}}, 4, 2, true, 0},
		{"loss is counted once", []event{{'w', 1}, {'w', 2}, {'r', 1}, {'r', 1}, {'r', 0}}, 2, 2, true, 0},
		{"failed write that applied", []event{{'w', 1}, {'f', 0}, {'r', 2}, {'w', 3}}, 2, 0, false, 0},
		{"failed write that did not apply", []event{{'w', 1}, {'f', 0}, {'r', 1}, {'w', 2}}, 2, 0, false, 0},
		{"someone else's counter", []event{{'r', 7}}, 0, 0, false, 1},
		{"jump above own writes", []event{{'w', 1}, {'w', 5}}, 2, 0, false, 1},
		{"empty session after reads only", []event{{'r', 0}, {'w', 1}, {'r', 0}}, 1, 1, true, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := replay(tt.events)
			if l.acked != tt.acked || l.lost != tt.lost || l.sessionLost != tt.sessionLost || l.unexpected != tt.unexpected {
				t.Errorf("acked=%d lost=%d sessionLost=%v unexpected=%d, want %d %d %v %d",
					l.acked, l.lost, l.sessionLost, l.unexpected, tt.acked, tt.lost, tt.sessionLost, tt.unexpected)
			}
		})
	}
}
