package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionmesh/sessionmesh/session"
)

// The timeouts every patch of the suite uses. They are long enough that a
// real server's TTL (Redis, Memcache) never fires during a run: the suite
// moves its own clock instead.
const (
	idle     = 30 * time.Minute
	lifetime = time.Hour
)

// Clock is a settable clock: it moves only when Advance is called, so that a
// test of a TTL advances it instead of sleeping. Pass its Now method where a
// store or a Manager takes a clock (a Config's Now field). It is safe for
// concurrent use. The zero Clock stands at the Unix epoch; NewClock sets the
// start.
//
// The suite hands each store a Clock that starts at the real time truncated
// to the millisecond and advances it in whole milliseconds only, so stores
// that keep times at millisecond precision compare equal.
type Clock struct {
	nanos atomic.Int64
}

// NewClock returns a Clock that stands at start.
func NewClock(start time.Time) *Clock {
	c := &Clock{}
	c.nanos.Store(start.UnixNano())
	return c
}

// Now returns the clock's time.
func (c *Clock) Now() time.Time { return time.Unix(0, c.nanos.Load()) }

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) { c.nanos.Add(int64(d)) }

// harness is one subtest's store, clock and the helpers that keep the
// subtests short.
type harness struct {
	t   *testing.T
	ctx context.Context
	clk *Clock
	st  session.Store

	// stateless is true for a store whose tokens carry the record itself
	// (the cookie store): it cannot revoke a copied token, so the suite does
	// not expect Delete or Renew to make an old token stop loading, and a
	// store without shared state cannot merge concurrent patches.
	stateless bool
	known     bool // whether stateless was learned from a first Save
}

func newHarness(t *testing.T, newStore func(*testing.T, func() time.Time) session.Store) *harness {
	t.Helper()
	clk := NewClock(time.Now().Truncate(time.Millisecond))
	st := newStore(t, clk.Now)
	if st == nil {
		t.Fatal("storetest: newStore returned a nil store")
	}
	return &harness{t: t, ctx: context.Background(), clk: clk, st: st}
}

// edit changes a Patch under construction; set, del, clearAll, renewTo,
// withLifetime and withExpires build the patches the subtests save.
type edit func(t *testing.T, p *session.Patch)

// set writes key = v encoded with session.JSON, the Manager's default codec.
func set(key string, v any) edit {
	return func(t *testing.T, p *session.Patch) {
		t.Helper()
		data, err := session.JSON{}.Encode(v)
		if err != nil {
			t.Fatalf("storetest: encode %q: %v", key, err)
		}
		setRaw(key, data)(t, p)
	}
}

// setRaw writes key = data as it is.
func setRaw(key string, data []byte) edit {
	return func(_ *testing.T, p *session.Patch) {
		if p.Set == nil {
			p.Set = make(map[string][]byte)
		}
		p.Set[key] = data
	}
}

func del(keys ...string) edit {
	return func(_ *testing.T, p *session.Patch) { p.Delete = append(p.Delete, keys...) }
}

func clearAll() edit {
	return func(_ *testing.T, p *session.Patch) { p.Clear = true }
}

func renewTo(id string) edit {
	return func(_ *testing.T, p *session.Patch) { p.NewID = id }
}

func withLifetime(d time.Duration) edit {
	return func(_ *testing.T, p *session.Patch) { p.Lifetime = d }
}

func withExpires(at time.Time) edit {
	return func(_ *testing.T, p *session.Patch) { p.Expires = at }
}

// patch builds a Patch at the clock's time with the suite's idle timeout.
func (h *harness) patch(edits ...edit) session.Patch {
	h.t.Helper()
	p := session.Patch{Now: h.clk.Now(), Idle: idle}
	for _, e := range edits {
		e(h.t, &p)
	}
	return p
}

// create saves a new session and returns its token and ID.
func (h *harness) create(edits ...edit) (token, id string) {
	h.t.Helper()
	id = session.NewID()
	token = h.save("", append([]edit{renewTo(id)}, edits...)...)
	h.learn(token, id)
	return token, id
}

// learn checks the token a new session got: a store whose tokens are IDs
// must hand back the session's own ID; any other token must carry the record.
func (h *harness) learn(token, id string) {
	h.t.Helper()
	if token == "" {
		h.t.Fatal("Save of a new session returned an empty token")
	}
	stateless := token != id
	if stateless && session.ValidID(token) {
		h.t.Fatalf("Save of new session %s returned the ID-shaped token %s: a store whose tokens are IDs must return the session's ID", id, token)
	}
	if h.known && stateless != h.stateless {
		h.t.Fatalf("Save returned token %q for ID %s: the store mixes ID tokens and other tokens", token, id)
	}
	h.stateless, h.known = stateless, true
}

// save saves a patch that must succeed and returns the token to use next.
func (h *harness) save(token string, edits ...edit) string {
	h.t.Helper()
	p := h.patch(edits...)
	newToken, err := h.st.Save(h.ctx, token, p)
	if err != nil {
		h.t.Fatalf("Save(%.50q, %s): %v", token, describe(p), err)
	}
	if newToken == "" {
		h.t.Fatalf("Save(%.50q, %s) returned an empty token", token, describe(p))
	}
	return newToken
}

// saveErr saves a patch that must fail and returns the error.
func (h *harness) saveErr(token string, edits ...edit) error {
	h.t.Helper()
	p := h.patch(edits...)
	newToken, err := h.st.Save(h.ctx, token, p)
	if err == nil {
		h.t.Fatalf("Save(%.50q, %s) = %.50q, nil; want an error", token, describe(p), newToken)
	}
	return err
}

// notFoundOnSave asserts that a patch on token is refused with ErrNotFound.
func (h *harness) notFoundOnSave(token string, edits ...edit) {
	h.t.Helper()
	if err := h.saveErr(token, edits...); !errors.Is(err, session.ErrNotFound) {
		h.t.Fatalf("Save(%.50q): %v; want an error wrapping session.ErrNotFound", token, err)
	}
}

// load loads a session that must exist.
func (h *harness) load(token string) session.Record {
	h.t.Helper()
	rec, found, err := h.st.Load(h.ctx, token)
	if err != nil {
		h.t.Fatalf("Load(%.50q): %v", token, err)
	}
	if !found {
		h.t.Fatalf("Load(%.50q): not found at %s; want found", token, h.clk.Now().Format(time.RFC3339Nano))
	}
	return rec
}

// missing asserts that token loads as not found with a nil error.
func (h *harness) missing(token string) {
	h.t.Helper()
	rec, found, err := h.st.Load(h.ctx, token)
	if err != nil {
		h.t.Fatalf("Load(%.50q): %v; want not found with a nil error", token, err)
	}
	if found {
		h.t.Fatalf("Load(%.50q) found session %s (keys %v); want not found", token, rec.ID, rec.Keys())
	}
}

// value decodes key of rec into a T; a missing key fails the test.
func value[T any](t *testing.T, rec session.Record, key string) T {
	t.Helper()
	var v T
	data, ok := rec.Values[key]
	if !ok {
		t.Fatalf("session %s has no key %q (keys %v)", rec.ID, key, rec.Keys())
	}
	if err := (session.JSON{}).Decode(data, &v); err != nil {
		t.Fatalf("decode key %q = %.80q as %T: %v", key, data, v, err)
	}
	return v
}

// wantKeys asserts that rec holds exactly keys.
func wantKeys(t *testing.T, rec session.Record, keys ...string) {
	t.Helper()
	got := rec.Keys()
	if len(got) != len(keys) {
		t.Fatalf("session %s keys = %v; want %v", rec.ID, got, keys)
	}
	want := make(map[string]bool, len(keys))
	for _, k := range keys {
		want[k] = true
	}
	for _, k := range got {
		if !want[k] {
			t.Fatalf("session %s keys = %v; want %v", rec.ID, got, keys)
		}
	}
}

func describe(p session.Patch) string {
	return fmt.Sprintf("patch{NewID:%q set:%d delete:%d clear:%t}", p.NewID, len(p.Set), len(p.Delete), p.Clear)
}
