package cluster_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/sessionmesh/sessionmesh/cluster"
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
	raw, ok := rec.Values[key]
	if !found || !ok {
		return 0, false
	}
	var n int
	if err := json.Unmarshal(raw, &n); err != nil {
		t.Fatalf("decode %s/%s: %v", id, key, err)
	}
	return n, true
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
