package session_test

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sessionmesh/sessionmesh/session"
)

// PrincipalSessions passes the memory store's index through the spy.
func (s *spy) PrincipalSessions(ctx context.Context, p string) ([]session.Record, error) {
	return s.Store.(session.PrincipalIndex).PrincipalSessions(ctx, p)
}

// hashes returns the IDHash of each of a principal's sessions, sorted.
func (e *env) hashes(t *testing.T, principal string) []string {
	t.Helper()
	infos, err := e.m.Sessions(context.Background(), principal)
	must(t, err)
	var got []string
	for _, in := range infos {
		got = append(got, in.IDHash)
	}
	slices.Sort(got)
	return got
}

func hashesOf(tokens ...string) []string {
	var h []string
	for _, t := range tokens {
		h = append(h, session.IDHash(t))
	}
	slices.Sort(h)
	return h
}

// Sessions lists a user's sessions by ID hash, with created, last seen
// and expiry, oldest first; a renew, a logout (SetPrincipal("")) and a
// Destroy take a session off the list.
func TestSessionsListsAPrincipalsSessions(t *testing.T) {
	e := newEnv(t)
	a1 := e.login(t, "alice")
	e.clock.Advance(time.Minute)
	a2 := e.login(t, "alice")
	e.login(t, "bob")
	e.create(t, "anonymous", true)
	infos, err := e.m.Sessions(context.Background(), "alice")
	must(t, err)
	if len(infos) != 2 || infos[0].IDHash != session.IDHash(a1) || infos[1].IDHash != session.IDHash(a2) {
		t.Fatalf("Sessions(alice) = %+v; want a1 then a2", infos)
	}
	first := infos[0]
	if !first.Created.Equal(newClock().Now()) || !first.LastSeen.Equal(first.Created) ||
		!first.Expires.Equal(first.Created.Add(e.m.Config().IdleTimeout)) {
		t.Fatalf("a1 = %+v; want created and last seen at the start, expiring an idle timeout later", first)
	}

	var renewed string
	o := e.request(t, a1, func(s *session.Session) { must(t, s.Renew()) })
	renewed = o.Token
	e.request(t, a2, func(s *session.Session) { must(t, s.SetPrincipal("")) })
	if got, want := e.hashes(t, "alice"), hashesOf(renewed); !slices.Equal(got, want) {
		t.Fatalf("after a renew and a logout: %v; want %v", got, want)
	}
	e.request(t, renewed, func(s *session.Session) { must(t, s.Destroy()) })
	if got := e.hashes(t, "alice"); len(got) != 0 {
		t.Fatalf("after Destroy: %v; want none", got)
	}
}

// DestroyPrincipal deletes every session of the user, emits a destroyed
// event for each, returns the count, and leaves other users alone. The
// request that called it, one of the sessions, ends in its own response
// (cookie expired, no second delete or event), whether or not its handler
// also calls Destroy.
func TestDestroyPrincipal(t *testing.T) {
	for _, alsoDestroy := range []bool{false, true} {
		var ev events
		e := newEnv(t, func(c *session.Config) { c.OnEvent = ev.add })
		a1, a2 := e.login(t, "alice"), e.login(t, "alice")
		b := e.login(t, "bob")
		ev.take()
		var n int
		deletes := e.spy.deletes.Load()
		o := e.request(t, a1, func(s *session.Session) {
			p, err := s.Principal() // the handler knows its user
			must(t, err)
			if alsoDestroy {
				must(t, s.Destroy())
			}
			n, err = e.m.DestroyPrincipal(session.NewContext(context.Background(), s), p)
			must(t, err)
			if err := s.Set("after", 1); !errors.Is(err, session.ErrDestroyed) {
				t.Fatalf("a change after DestroyPrincipal ended the session: %v; want ErrDestroyed", err)
			}
		})
		if n != 2 || o.Action != session.CookieExpire || e.spy.deletes.Load()-deletes != 2 {
			t.Fatalf("DestroyPrincipal = %d, the request's outcome %+v, %d deletes; want 2, the cookie expired, 2 deletes",
				n, o, e.spy.deletes.Load()-deletes)
		}
		var hashes []string
		for _, x := range ev.take() {
			if x.Kind != session.EventDestroyed || x.Principal != "alice" {
				t.Fatalf("event %+v; want destroyed of alice", x)
			}
			hashes = append(hashes, x.IDHash)
		}
		slices.Sort(hashes)
		if !slices.Equal(hashes, hashesOf(a1, a2)) {
			t.Fatalf("destroyed events for %v; want one for each of %v", hashes, hashesOf(a1, a2))
		}
		if e.live(t, a1) || e.live(t, a2) {
			t.Fatal("a session of alice loads after DestroyPrincipal")
		}
		if !e.live(t, b) {
			t.Fatal("bob's session ended with alice's")
		}
		if got := e.hashes(t, "alice"); len(got) != 0 {
			t.Fatalf("Sessions(alice) after DestroyPrincipal: %v", got)
		}
		if n, err := e.m.DestroyPrincipal(context.Background(), "alice"); n != 0 || err != nil {
			t.Fatalf("DestroyPrincipal again = %d, %v; want 0, nil", n, err)
		}
	}
}

// Another request of a destroyed session, under way meanwhile, saves
// nothing at its Commit: the session stays gone.
func TestDestroyPrincipalWinsOverARequestUnderWay(t *testing.T) {
	e := newEnv(t)
	a := e.login(t, "alice")
	e.request(t, a, func(s *session.Session) {
		_, err := s.Principal()
		must(t, err)
		_, err = e.m.DestroyPrincipal(context.Background(), "alice") // another request's
		must(t, err)
		must(t, s.Set("late", 1))
	})
	if e.live(t, a) {
		t.Fatal("the request under way brought the destroyed session back")
	}
}

// With a Revoker, DestroyPrincipal revokes too (copies of cookie-store
// cookies end), and Sessions leaves out sessions already revoked.
func TestDestroyPrincipalRevokes(t *testing.T) {
	var rv *spyRevoker
	e := newEnv(t, withRevoker(&rv))
	e.login(t, "alice")
	must(t, e.m.RevokePrincipal(context.Background(), "alice"))
	if got := e.hashes(t, "alice"); len(got) != 0 {
		t.Fatalf("Sessions lists revoked sessions: %v", got)
	}
	current := e.login(t, "alice")
	if got := e.hashes(t, "alice"); !slices.Equal(got, hashesOf(current)) {
		t.Fatalf("Sessions = %v; want the session after the revoke only", got)
	}
	before := rv.revokes.Load()
	n, err := e.m.DestroyPrincipal(context.Background(), "alice")
	must(t, err)
	if n != 2 || rv.revokes.Load() != before+1 {
		t.Fatalf("DestroyPrincipal = %d with %d revokes; want both sessions deleted and one revoke", n, rv.revokes.Load()-before)
	}
	rv.fail.Store(true)
	if _, err := e.m.DestroyPrincipal(context.Background(), "alice"); !errors.Is(err, errRevokerDown) {
		t.Fatalf("DestroyPrincipal with the Revoker down: %v; want its error", err)
	}
}

// A store without an index: both calls fail with ErrUnsupported, naming
// RevokePrincipal, and revoke nothing; a bad principal is refused.
func TestSessionsUnsupportedAndBadInput(t *testing.T) {
	var rv *spyRevoker
	e := newEnv(t, withRevoker(&rv), mapLoads) // mapLoads hides the index
	e.login(t, "alice")
	_, err := e.m.Sessions(context.Background(), "alice")
	if !errors.Is(err, errors.ErrUnsupported) || !strings.Contains(err.Error(), "RevokePrincipal") {
		t.Fatalf("Sessions without an index: %v; want ErrUnsupported naming RevokePrincipal", err)
	}
	if _, err := e.m.DestroyPrincipal(context.Background(), "alice"); !errors.Is(err, errors.ErrUnsupported) || rv.revokes.Load() != 0 {
		t.Fatalf("DestroyPrincipal without an index: %v after %d revokes; want ErrUnsupported and none", err, rv.revokes.Load())
	}
	for _, p := range []string{"", string(make([]byte, session.MaxPrincipalLen+1))} {
		if _, err := e.m.Sessions(context.Background(), p); !errors.Is(err, session.ErrInvalidPrincipal) {
			t.Errorf("Sessions(%d bytes): %v; want ErrInvalidPrincipal", len(p), err)
		}
	}
}

// The principal is stored plain, so stores read it without the Codec; a
// session written before, with the principal encoded by the Codec, still
// has its principal for the Manager.
func TestPrincipalStoredPlainAndOldFormatRead(t *testing.T) {
	e := newEnv(t)
	token := e.login(t, "tenant:alice")
	rec, _, err := e.spy.Store.Load(context.Background(), token)
	must(t, err)
	if got := session.PrincipalOf(rec.Values); got != "tenant:alice" {
		t.Fatalf("PrincipalOf the stored session = %q; want tenant:alice", got)
	}
	if got := string(session.BinaryPrincipal(rec.AppendBinary(nil))); got != "tenant:alice" {
		t.Fatalf("BinaryPrincipal = %q; want tenant:alice", got)
	}
	k, _ := session.PrincipalValue("", 0)
	old := session.Patch{NewID: session.NewID(), Now: e.clock.Now(), Idle: time.Hour,
		Set: map[string][]byte{"user": []byte(`"bob"`), k: []byte(`"0:bob"`)}}
	oldToken, err := e.spy.Store.Save(context.Background(), "", old)
	must(t, err)
	var p string
	e.request(t, oldToken, func(s *session.Session) { p, err = s.Principal(); must(t, err) })
	if p != "bob" {
		t.Fatalf("the principal of a session in the old format = %q; want bob", p)
	}
}

// Patch.Principal tells a store when a patch changes the principal.
func TestPatchPrincipal(t *testing.T) {
	k, v := session.PrincipalValue("alice", 3)
	for _, tt := range []struct {
		p       session.Patch
		want    string
		changed bool
	}{
		{session.Patch{}, "", false},
		{session.Patch{Set: map[string][]byte{"a": nil}, Delete: []string{"b"}}, "", false},
		{session.Patch{Set: map[string][]byte{k: v}}, "alice", true},
		{session.Patch{Clear: true, Set: map[string][]byte{k: v}}, "alice", true},
		{session.Patch{Clear: true}, "", true},
		{session.Patch{Delete: []string{k}}, "", true},
	} {
		if got, changed := tt.p.Principal(); got != tt.want || changed != tt.changed {
			t.Errorf("%+v.Principal() = %q, %v; want %q, %v", tt.p, got, changed, tt.want, tt.changed)
		}
	}
}

// BinaryPrincipal reads from the bytes what PrincipalOf reads from the
// decoded record, and never panics on bytes that are not a record (a
// cluster peer's, say).
func FuzzBinaryPrincipal(f *testing.F) {
	k, v := session.PrincipalValue("alice", 7)
	rec := session.Record{Values: map[string][]byte{k: v, "\x00a": nil, "user": []byte(`"x"`)}, Version: 3,
		Created: time.Unix(1, 2), Touched: time.Unix(1<<40, 0), Idle: time.Unix(1<<41, 0)}
	f.Add(rec.AppendBinary(nil))
	f.Add((&session.Record{}).AppendBinary(nil))
	f.Add([]byte{1, 0, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		got := session.BinaryPrincipal(b)
		var r session.Record
		if r.UnmarshalBinary(b) != nil || !bytes.Equal(r.AppendBinary(nil), b) {
			return // not a record as stores write them (keys in order)
		}
		if want := session.PrincipalOf(r.Values); string(got) != want {
			t.Fatalf("BinaryPrincipal = %q; PrincipalOf the decoded record = %q", got, want)
		}
	})
}
