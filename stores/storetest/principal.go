package storetest

import (
	"errors"
	"slices"
	"time"

	"github.com/sessionmesh/sessionmesh/session"
)

// withPrincipal gives the session principal p (generation 1), as
// Session.SetPrincipal stores it.
func withPrincipal(p string) edit {
	k, v := session.PrincipalValue(p, 1)
	return setRaw(k, v)
}

// dropUser deletes the session's principal.
func dropUser() edit {
	k, _ := session.PrincipalValue("", 0)
	return del(k)
}

// testPrincipalIndex: a store that implements session.PrincipalIndex finds
// the live sessions of a principal, and follows every change: a new
// session, a renew, a principal set, changed, deleted or cleared, a
// delete, an expiry. A store without one, or with it off (its
// PrincipalSessions fails with errors.ErrUnsupported), is checked for
// what RevokePrincipal and the documented alternative rely on instead:
// the principal travels with the session.
func testPrincipalIndex(h *harness) {
	a1, _ := h.create(withPrincipal("alice"), set("n", 1))
	a2, _ := h.create(withPrincipal("alice"))
	b1, _ := h.create(withPrincipal("bob"))
	h.create(set("anonymous", true))
	idx, ok := h.st.(session.PrincipalIndex)
	if ok {
		_, err := idx.PrincipalSessions(h.ctx, "alice")
		ok = !errors.Is(err, errors.ErrUnsupported)
	}
	if !ok {
		h.principalTravels(a1)
		return
	}
	h.wantPrincipal(idx, "alice", a1, a2)
	h.wantPrincipal(idx, "bob", b1)
	h.wantPrincipal(idx, "carol")
	h.wantPrincipal(idx, "alic")

	a1r := session.NewID()
	h.save(a1, renewTo(a1r), set("m", 2))
	h.wantPrincipal(idx, "alice", a1r, a2)
	h.save(a2, withPrincipal("bob"))
	h.wantPrincipal(idx, "alice", a1r)
	h.wantPrincipal(idx, "bob", b1, a2)
	h.save(b1, dropUser())
	h.save(a2, clearAll(), set("x", 1))
	h.wantPrincipal(idx, "bob")
	h.save(b1, withPrincipal("bob"))
	h.wantPrincipal(idx, "bob", b1)
	if err := h.st.Delete(h.ctx, a1r); err != nil {
		h.t.Fatalf("Delete: %v", err)
	}
	h.wantPrincipal(idx, "alice")

	h.create(withPrincipal("alice"))
	h.clk.Advance(idle + time.Millisecond)
	h.wantPrincipal(idx, "alice")
	h.wantPrincipal(idx, "bob")
}

// principalTravels asserts that alice, the principal of the session
// token, is kept through a patch and a renew, and gone once dropped.
func (h *harness) principalTravels(token string) {
	h.t.Helper()
	token = h.save(token, set("m", 2))
	token = h.save(token, renewTo(session.NewID()))
	if p := session.PrincipalOf(h.load(token).Values); p != "alice" {
		h.t.Fatalf("principal after a patch and a renew: %q; want alice", p)
	}
	token = h.save(token, dropUser())
	if p := session.PrincipalOf(h.load(token).Values); p != "" {
		h.t.Fatalf("principal after it was dropped: %q; want none", p)
	}
}

// wantPrincipal asserts that the live sessions PrincipalSessions returns
// for p are exactly ids, each whole (as Load returns it: the principal's
// value among its values). Expired ones, which the contract allows, are
// left out.
func (h *harness) wantPrincipal(idx session.PrincipalIndex, p string, ids ...string) {
	h.t.Helper()
	recs, err := idx.PrincipalSessions(h.ctx, p)
	if err != nil {
		h.t.Fatalf("PrincipalSessions(%q): %v", p, err)
	}
	var got []string
	for _, r := range recs {
		if r.Expired(h.clk.Now()) {
			continue
		}
		if session.PrincipalOf(r.Values) != p {
			continue // changed since it was indexed: allowed, the Manager checks
		}
		got = append(got, r.ID)
	}
	slices.Sort(got)
	want := slices.Sorted(slices.Values(ids))
	if !slices.Equal(got, want) {
		h.t.Fatalf("PrincipalSessions(%q) = %v; want %v", p, got, want)
	}
}
