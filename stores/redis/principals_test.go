package redis

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/sessionmesh/sessionmesh/internal/servertest"
	"github.com/sessionmesh/sessionmesh/session"
	"github.com/sessionmesh/sessionmesh/stores/internal/storetesting"
)

// withPrincipal is p with the principal value SetPrincipal stores.
func withPrincipal(p session.Patch, principal string) session.Patch {
	k, v := session.PrincipalValue(principal, 1)
	if p.Set == nil {
		p.Set = map[string][]byte{}
	}
	p.Set[k] = v
	return p
}

// The set of a principal, as another client sees it: under the prefix, a
// hash of the principal (not the principal) in its name; the session's
// hash names it; its TTL is never below its longest session's, and grows
// when a session's touch pushes that session's TTL past it.
func TestPrincipalSetLayoutAndTTL(t *testing.T) {
	srv := servertest.Redis(t)
	s := open(t, Config{Addrs: []string{srv.Addr()}, Prefix: "app1:"})
	raw := rawClient(t, srv.Addr())
	ctx := context.Background()
	now := time.Now()
	short := withPrincipal(storetesting.Patch(now), "alice@example.com")
	short.Idle = time.Minute
	a := storetesting.Create(t, s, short)
	long := withPrincipal(storetesting.Patch(now), "alice@example.com")
	long.Idle = time.Hour
	b := storetesting.Create(t, s, long)

	set := s.principalSet("alice@example.com")
	if !strings.HasPrefix(set, "app1:principal:") || strings.Contains(set, "alice") {
		t.Fatalf("the set's key is %q; want app1:principal: and a hash, not the principal", set)
	}
	if got, _ := raw.HGet(ctx, "app1:"+a, fieldPrincipal).Result(); got != set {
		t.Fatalf("the session's principal field = %q; want %q", got, set)
	}
	members, err := raw.SMembers(ctx, set).Result()
	if err != nil || len(members) != 2 {
		t.Fatalf("SMEMBERS %s = %v, %v; want both sessions", set, members, err)
	}
	wantSetTTL := func(atLeast time.Duration) {
		t.Helper()
		ttl, err := raw.PTTL(ctx, set).Result()
		if err != nil || ttl < atLeast-time.Minute || ttl > atLeast+time.Minute {
			t.Fatalf("the set's TTL = %v, %v; want about %v", ttl, err, atLeast)
		}
	}
	wantSetTTL(time.Hour)
	touch := storetesting.Patch(now)
	touch.Idle = 3 * time.Hour
	if _, err := s.Save(ctx, a, touch); err != nil {
		t.Fatal(err)
	}
	wantSetTTL(3 * time.Hour)
	if err := s.Delete(ctx, b); err != nil {
		t.Fatal(err)
	}
	if members, _ := raw.SMembers(ctx, set).Result(); len(members) != 1 || members[0] != a {
		t.Fatalf("after Delete the set holds %v; want only %s", members, a)
	}
}

// A session Redis expired, or another client deleted, leaves its ID in
// the set; a listing leaves it out and removes it.
func TestPrincipalListingPrunesStaleIDs(t *testing.T) {
	srv := servertest.Redis(t)
	s := open(t, Config{Addrs: []string{srv.Addr()}})
	raw := rawClient(t, srv.Addr())
	ctx := context.Background()
	a := storetesting.Create(t, s, withPrincipal(storetesting.Patch(time.Now()), "alice"))
	gone := storetesting.Create(t, s, withPrincipal(storetesting.Patch(time.Now()), "alice"))
	if err := raw.Del(ctx, "sess:"+gone).Err(); err != nil {
		t.Fatal(err)
	}
	recs, err := s.PrincipalSessions(ctx, "alice")
	if err != nil || len(recs) != 1 || recs[0].ID != a {
		t.Fatalf("PrincipalSessions = %v, %v; want the live session only", recs, err)
	}
	if members, _ := raw.SMembers(ctx, s.principalSet("alice")).Result(); len(members) != 1 || members[0] != a {
		t.Fatalf("the set after a listing holds %v; want the stale ID removed", members)
	}
}

// DestroyPrincipal through a Manager over real Redis, sealed: every
// session of the user is deleted, the set is gone, other users stay, and
// nothing of the principal is in Redis in the clear.
func TestDestroyPrincipalSealed(t *testing.T) {
	srv := servertest.Redis(t)
	s := open(t, Config{Addrs: []string{srv.Addr()}, Keys: []Key{newKey}})
	raw := rawClient(t, srv.Addr())
	ctx := context.Background()
	m, err := session.NewManager(session.DefaultConfig(s))
	if err != nil {
		t.Fatal(err)
	}
	var alice []string
	for range 3 {
		alice = append(alice, storetesting.Create(t, s, withPrincipal(storetesting.Patch(time.Now()), "plaintext-user")))
	}
	bob := storetesting.Create(t, s, withPrincipal(storetesting.Patch(time.Now()), "bob"))
	for _, id := range alice {
		for f, v := range rawHash(t, srv.Addr(), id) {
			storetesting.WantNoPlaintext(t, "field "+f, []byte(v))
		}
	}
	n, err := m.DestroyPrincipal(ctx, "plaintext-user")
	if err != nil || n != 3 {
		t.Fatalf("DestroyPrincipal = %d, %v; want 3", n, err)
	}
	for _, id := range alice {
		if _, found, err := s.Load(ctx, id); found || err != nil {
			t.Fatalf("a destroyed session loads: %v, %v", found, err)
		}
	}
	if n, _ := raw.Exists(ctx, s.principalSet("plaintext-user")).Result(); n != 0 {
		t.Fatal("the set of a principal without sessions is still there")
	}
	storetesting.Load(t, s, bob)
}

// Count counts, and Iterate walks, the sessions under the store's prefix,
// on one server and across the masters of a Redis Cluster: not a
// principal's set, not another store's sessions under another prefix,
// not a deleted session; Iterate stops when its function says so.
func TestCountCountsThisStoresSessions(t *testing.T) {
	ctx := context.Background()
	srv := servertest.Redis(t)
	nodes := servertest.RedisCluster(t, 3)
	for _, tc := range []struct {
		name  string
		addrs []string
	}{
		{"one server", []string{srv.Addr()}},
		{"cluster", []string{nodes[0].Addr(), nodes[1].Addr(), nodes[2].Addr()}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t, Config{Addrs: tc.addrs, Prefix: "count:"})
			other := open(t, Config{Addrs: tc.addrs, Prefix: "other:"})
			now := time.Now()
			var ids []string
			for range 40 {
				ids = append(ids, storetesting.Create(t, s, withPrincipal(storetesting.Patch(now), "alice")))
			}
			storetesting.Create(t, other, storetesting.Patch(now))
			if err := s.Delete(ctx, ids[0]); err != nil {
				t.Fatal(err)
			}
			if n, err := s.Count(ctx); err != nil || n != 39 {
				t.Fatalf("Count = %d, %v; want the 39 sessions left under the prefix", n, err)
			}
			seen := map[string]bool{}
			if err := s.Iterate(ctx, func(rec session.Record) bool { seen[rec.ID] = true; return true }); err != nil {
				t.Fatal(err)
			}
			for i, id := range ids {
				if seen[id] != (i > 0) {
					t.Fatalf("Iterate saw session %d: %v; want every session but the deleted one", i, seen[id])
				}
			}
			if len(seen) != 39 {
				t.Fatalf("Iterate saw %d sessions; want the 39 under the prefix", len(seen))
			}
			calls := 0
			if err := s.Iterate(ctx, func(session.Record) bool { calls++; return calls < 5 }); err != nil || calls != 5 {
				t.Fatalf("Iterate went on after its function returned false: %d calls, %v", calls, err)
			}
		})
	}
}
