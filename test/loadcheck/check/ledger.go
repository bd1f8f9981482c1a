package check

// ledger is one user's history of acknowledged writes: the consistency
// checker. It is pure (no I/O, no clock) so its rules are table-tested.
//
// Every write increments the counter by one and answers the new value w, so
// the session held w-1 just before that write. Every read answers the value
// held. Both are observations of the session's state. An acknowledged write
// whose value is above an observed state is lost: the session went back to a
// state that does not contain it. Lost writes are dropped from the ledger,
// because the counter then counts up again from the lower state and later
// acknowledged writes reuse their values.
type ledger struct {
	live []int // acknowledged write values not (yet) lost; strictly increasing

	acked        int  // acknowledged writes
	lost         int  // acknowledged writes later seen lost
	failedWrites int  // writes, or sends of one, that got no acknowledgement (they may still have applied)
	sessionLost  bool // an observation found no session at all (state 0) where one was acknowledged
	unexpected   int  // observations above anything this user could have written
}

// top is the highest acknowledged write not lost, 0 if none.
func (l *ledger) top() int {
	if len(l.live) == 0 {
		return 0
	}
	return l.live[len(l.live)-1]
}

// observe records that the session was seen holding state.
func (l *ledger) observe(state int) {
	if state > l.top()+l.failedWrites {
		// Higher than every acknowledged write plus every write that may
		// have applied without an answer: a value this user never wrote,
		// e.g. another user's session.
		l.unexpected++
	}
	popped := 0
	for len(l.live) > 0 && l.top() > state {
		l.live = l.live[:len(l.live)-1]
		popped++
	}
	l.lost += popped
	if popped > 0 && state == 0 {
		l.sessionLost = true
	}
}

// ackWrite records a write acknowledged with the counter's new value.
func (l *ledger) ackWrite(value int) {
	l.observe(value - 1)
	l.live = append(l.live, value)
	l.acked++
}

// unanswered records n sends of writes that got no acknowledgement: a
// write that failed, or the sends of one beyond the one answered. Each
// may have been applied.
func (l *ledger) unanswered(n int) { l.failedWrites += n }
