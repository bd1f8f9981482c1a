package storetesting

import (
	"context"
	"testing"
	"time"

	"github.com/sessionmesh/sessionmesh/session"
)

// Patch builds a patch at now with a 30-minute idle timeout that sets the
// given key/value pairs (values are taken as encoded JSON).
func Patch(now time.Time, kv ...string) session.Patch {
	p := session.Patch{Now: now, Idle: 30 * time.Minute}
	if len(kv) > 0 {
		p.Set = make(map[string][]byte)
	}
	for i := 0; i+1 < len(kv); i += 2 {
		p.Set[kv[i]] = []byte(kv[i+1])
	}
	return p
}

// Create saves p as a new session and returns its token, which for a store
// on a server is the session's ID.
func Create(t testing.TB, s session.Store, p session.Patch) string {
	t.Helper()
	p.NewID = session.NewID()
	tok, err := s.Save(context.Background(), "", p)
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	return tok
}

// Load loads a session that must exist.
func Load(t testing.TB, s session.Store, token string) session.Record {
	t.Helper()
	rec, found, err := s.Load(context.Background(), token)
	if err != nil || !found {
		t.Fatalf("Load: found=%t err=%v; want the session", found, err)
	}
	return rec
}
