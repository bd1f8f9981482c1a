package cluster_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/sessionmesh/sessionmesh/cluster"
	"github.com/sessionmesh/sessionmesh/cluster/peer"
	"github.com/sessionmesh/sessionmesh/internal/testutil"
	"github.com/sessionmesh/sessionmesh/session"
)

// set returns a patch that writes key = v (JSON) with the real clock.
func set(kv map[string]any) session.Patch {
	p := session.Patch{Set: map[string][]byte{}, Now: time.Now(), Idle: time.Hour}
	for k, v := range kv {
		b, _ := json.Marshal(v)
		p.Set[k] = b
	}
	return p
}

// create saves a new session holding kv and returns its ID.
func create(t testing.TB, st session.Store, kv map[string]any) string {
	t.Helper()
	p := set(kv)
	p.NewID = session.NewID()
	id, err := st.Save(context.Background(), "", p)
	if err != nil {
		t.Fatalf("create session: %v", err)
	}
	return id
}

// value loads key of session id from st and decodes it as an int; found
// is false when the session or the key is missing.
func value(t *testing.T, st session.Store, id, key string) (int, bool) {
	t.Helper()
	rec, found, err := st.Load(context.Background(), id)
	if err != nil {
		t.Fatalf("load %s: %v", id, err)
	}
	return intValue(t, rec, found, key)
}

// intValue decodes key of a loaded record as an int; false when the
// session or the key is missing.
func intValue(t *testing.T, rec session.Record, found bool, key string) (int, bool) {
	t.Helper()
	raw, ok := rec.Values[key]
	if !found || !ok {
		return 0, false
	}
	var n int
	if err := json.Unmarshal(raw, &n); err != nil {
		t.Fatalf("decode %s/%s: %v", rec.ID, key, err)
	}
	return n, true
}

// transient reports whether err is a refusal a client retries: the
// store was unavailable for the moment (the middleware answers 503): no
// replica answered within CallTimeout, a node checking a pause, the
// quorum guard. It is never a miss, a full store or a bad request. On a
// loaded machine (two cores, -race, other test binaries) a node stalls
// for a second or more, and calls to it time out however patient the
// Config: a test that asserts what users rely on (no acknowledged write
// lost) retries these, as the users would.
func transient(err error) bool {
	return errors.Is(err, cluster.ErrUnavailable) || errors.Is(err, cluster.ErrNotSynced) ||
		errors.Is(err, peer.ErrUnavailable) || errors.Is(err, context.DeadlineExceeded)
}

// retry runs op until it returns nil or an error that is not transient,
// as a client retries a 503, and returns that; a transient error that
// lasts longer than converge is returned as well. It does not fail the
// test, so it may run on any goroutine.
func retry(op func() error) error {
	var err error
	testutil.Poll(converge, func() bool {
		err = op()
		return err == nil || !transient(err)
	})
	return err
}

// settledValue is value for reading back what a test wrote once the
// cluster settles: a transient error is retried (see transient), a miss
// or any other error is not.
func settledValue(t *testing.T, st session.Store, id, key string) (int, bool) {
	t.Helper()
	var rec session.Record
	var found bool
	if err := retry(func() (err error) {
		rec, found, err = st.Load(context.Background(), id)
		return err
	}); err != nil {
		t.Fatalf("load %s: %v", id, err)
	}
	return intValue(t, rec, found, key)
}

// waitTable waits, without polling, until cond holds for s's table, and
// fails the test after timeout.
func waitTable(t testing.TB, s *cluster.Store, timeout time.Duration, what string, cond func(*cluster.Table) bool) {
	t.Helper()
	expired := time.After(timeout)
	for {
		changed := s.TableChanged()
		if cond(s.Table()) {
			return
		}
		select {
		case <-changed:
		case <-expired:
			t.Fatalf("after %v: %s", timeout, what)
		}
	}
}

// scenario marks a test that runs a cluster of real nodes through failure
// detection, joins or drains on real timers: seconds each. The inner loop
// (go test -short) skips it; scripts/test.sh, and so CI, runs it.
func scenario(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("a multi-node scenario on real timers; run without -short (scripts/test.sh)")
	}
}
