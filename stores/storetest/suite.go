package storetest

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessionmesh/sessionmesh/session"
)

// Run runs the conformance suite against stores made by newStore. newStore is
// called once per subtest with that subtest's t and a clock the store must use
// for its expiry decisions (a store enforces expiry on Load with
// Record.Expired(now())). The clock starts at the real time and the suite
// advances it. newStore should register the store's cleanup with t.Cleanup.
func Run(t *testing.T, newStore func(t *testing.T, now func() time.Time) session.Store) {
	tests := []struct {
		name string
		run  func(*harness)
	}{
		{"RoundTrip", testRoundTrip},
		{"OddKeys", testOddKeys},
		{"PatchMerge", testPatchMerge},
		{"Clear", testClear},
		{"ConcurrentPatches", testConcurrentPatches},
		{"Isolation", testIsolation},
		{"IdleExpiry", testIdleExpiry},
		{"AbsoluteLifetime", testAbsoluteLifetime},
		{"NewLifetime", testNewLifetime},
		{"TouchSlidesIdle", testTouchSlidesIdle},
		{"Renew", testRenew},
		{"Destroy", testDestroy},
		{"UnknownToken", testUnknownToken},
		{"MalformedTokens", testMalformedTokens},
		{"TamperedToken", testTamperedToken},
		{"TooLarge", testTooLarge},
		{"VersionIncreases", testVersionIncreases},
		{"CreatedKept", testCreatedKept},
		{"PrincipalIndex", testPrincipalIndex},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.run(newHarness(t, newStore))
		})
	}
}

type user struct {
	Name  string
	Age   int
	Tags  []string
	Admin bool
	Seen  time.Time
	Prefs map[string]string
}

// valueCase is one value of the round trip: it is set under key and check
// decodes it back into its own type.
type valueCase struct {
	key   string
	value any
	check func(t *testing.T, rec session.Record)
}

func caseOf[T any](key string, v T) valueCase {
	return valueCase{key: key, value: v, check: func(t *testing.T, rec session.Record) {
		t.Helper()
		if got := value[T](t, rec, key); !equal(got, v) {
			t.Fatalf("key %q = %#v; want %#v", key, got, v)
		}
	}}
}

// equal compares times with time.Time.Equal (a zone may not survive the
// encoding) and everything else by its Go syntax, which, unlike
// reflect.DeepEqual, ignores how a time.Time nested in a struct is laid out
// internally.
func equal[T any](a, b T) bool {
	if ta, ok := any(a).(time.Time); ok {
		return ta.Equal(any(b).(time.Time))
	}
	return fmt.Sprintf("%#v", a) == fmt.Sprintf("%#v", b)
}

func valueCases() []valueCase {
	utc := time.Date(2024, 2, 29, 13, 4, 5, 123456789, time.UTC)
	return []valueCase{
		caseOf("int", 42),
		caseOf("negative", -7),
		caseOf("int64", int64(1)<<62),
		caseOf("uint", uint(1)<<40),
		caseOf("string", "hello"),
		caseOf("unicode", "héllo ✓ \"quoted\"\n\ttabbed"),
		caseOf("empty", ""),
		caseOf("float", 3.25),
		caseOf("tiny", -1e-300),
		caseOf("true", true),
		caseOf("false", false),
		caseOf("time", utc),
		caseOf("zoned", time.Date(2023, 7, 1, 9, 30, 0, 0, time.FixedZone("X", -5*3600))),
		caseOf("struct", user{Name: "ada", Age: 36, Tags: []string{"a", "b"}, Admin: true, Seen: utc,
			Prefs: map[string]string{"theme": "dark"}}),
		caseOf("map", map[string]int{"x": 1, "y": -2}),
		caseOf("slice", []int{3, 1, 2}),
		caseOf("strings", []string{"a", "", "c"}),
		caseOf("nested", [][]float64{{1.5}, {}, {2, 3}}),
		caseOf("structs", []user{{Name: "a"}, {Name: "b", Age: 2, Seen: utc}}),
	}
}

// testRoundTrip: values of every common type come back as they were set,
// decoded into their own type, and their encoded bytes are kept exactly.
func testRoundTrip(h *harness) {
	cases := valueCases()
	edits := make([]edit, len(cases))
	for i, c := range cases {
		edits[i] = set(c.key, c.value)
	}
	token, id := h.create(edits...)
	rec := h.load(token)
	if rec.ID != id {
		h.t.Fatalf("loaded ID %s; want %s", rec.ID, id)
	}
	for _, c := range cases {
		h.t.Run(c.key, func(t *testing.T) {
			c.check(t, rec)
			want, _ := session.JSON{}.Encode(c.value)
			if !bytes.Equal(rec.Values[c.key], want) {
				t.Fatalf("stored bytes %q; want %q (a store must not re-encode values)", rec.Values[c.key], want)
			}
		})
	}
}

// testOddKeys: keys are opaque strings up to session.MaxKeyLen bytes.
func testOddKeys(h *harness) {
	keys := []string{"with space", "ключ", "a:b", "{braces}", "x\x00y", "line\nbreak", "*", "sess:", "%s",
		strings.Repeat("k", session.MaxKeyLen)}
	edits := make([]edit, len(keys))
	for i, k := range keys {
		edits[i] = set(k, i)
	}
	token, _ := h.create(edits...)
	rec := h.load(token)
	wantKeys(h.t, rec, keys...)
	for i, k := range keys {
		if got := value[int](h.t, rec, k); got != i {
			h.t.Errorf("key %q = %d; want %d", k, got, i)
		}
	}
}

// testPatchMerge: a patch changes only the keys it names.
func testPatchMerge(h *harness) {
	token, _ := h.create(set("a", 1), set("c", "gone soon"))
	token = h.save(token, set("b", 2), del("c"))
	rec := h.load(token)
	wantKeys(h.t, rec, "a", "b")
	if a, b := value[int](h.t, rec, "a"), value[int](h.t, rec, "b"); a != 1 || b != 2 {
		h.t.Fatalf("a=%d b=%d; want a=1 b=2", a, b)
	}
	token = h.save(token, set("a", 10), del("never-set"))
	rec = h.load(token)
	wantKeys(h.t, rec, "a", "b")
	if a := value[int](h.t, rec, "a"); a != 10 {
		h.t.Fatalf("a=%d after overwrite; want 10", a)
	}
}

// testClear: Clear drops every key but keeps the session, and a Set in the
// same patch lands after the clear.
func testClear(h *harness) {
	token, id := h.create(set("a", 1), set("b", 2))
	token = h.save(token, clearAll(), set("c", 3))
	rec := h.load(token)
	wantKeys(h.t, rec, "c")
	token = h.save(token, clearAll())
	rec = h.load(token)
	wantKeys(h.t, rec)
	if rec.ID != id {
		h.t.Fatalf("ID after Clear = %s; want %s (Clear keeps the session)", rec.ID, id)
	}
}

// testConcurrentPatches: concurrent requests of one session that set
// different keys all survive, each applied exactly once.
func testConcurrentPatches(h *harness) {
	const goroutines, patches = 8, 20
	token, _ := h.create(set("base", true))
	before := h.load(token)
	tokens := make(chan string, goroutines*patches)
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range patches {
				key := fmt.Sprintf("g%d-%d", g, i)
				p := session.Patch{Now: h.clk.Now(), Idle: idle, Set: map[string][]byte{key: []byte(strconv.Itoa(i))}}
				next, err := h.st.Save(h.ctx, token, p)
				if err != nil {
					h.t.Errorf("concurrent Save of %s: %v", key, err)
					return
				}
				tokens <- next
			}
		})
	}
	wg.Wait()
	close(tokens)
	if h.t.Failed() {
		return
	}
	if h.stateless {
		checkStatelessPatches(h, tokens)
		return
	}
	rec := h.load(token)
	want := []string{"base"}
	for g := range goroutines {
		for i := range patches {
			want = append(want, fmt.Sprintf("g%d-%d", g, i))
		}
	}
	wantKeys(h.t, rec, want...)
	if rec.Version != before.Version+goroutines*patches {
		h.t.Fatalf("Version = %d after %d patches from %d; want each patch applied once", rec.Version, goroutines*patches, before.Version)
	}
}

// checkStatelessPatches: a store that keeps the record in the token cannot
// merge patches made on copies of one token; each returned token must still
// hold the base key and its own patch.
func checkStatelessPatches(h *harness, tokens <-chan string) {
	for next := range tokens {
		rec := h.load(next)
		if len(rec.Values) != 2 || rec.Values["base"] == nil {
			h.t.Fatalf("token from a concurrent Save holds keys %v; want base and its own key", rec.Keys())
		}
	}
}

// testIsolation: the caller may keep and change what Load returns and what
// it passed to Save without changing the stored session.
func testIsolation(h *harness) {
	data := []byte(`"original"`)
	token, _ := h.create(setRaw("a", data))
	copy(data, `"changed!"`)
	rec := h.load(token)
	rec.Values["a"][1] = 'X'
	rec.Values["b"] = []byte("1")
	again := h.load(token)
	wantKeys(h.t, again, "a")
	if got := value[string](h.t, again, "a"); got != "original" {
		h.t.Fatalf("a = %q; want %q: the store shares memory with its caller", got, "original")
	}
}

// testIdleExpiry: an idle session loads until just before its idle deadline
// and never after, and a patch cannot bring it back.
func testIdleExpiry(h *harness) {
	t0 := h.clk.Now()
	token, _ := h.create(set("a", 1))
	rec := h.load(token)
	wantTime(h.t, "Touched", rec.Touched, t0)
	wantTime(h.t, "Idle", rec.Idle, t0.Add(idle))
	if !rec.Expires.IsZero() {
		h.t.Fatalf("Expires = %v for a session without a lifetime; want zero", rec.Expires)
	}
	h.clk.Advance(idle - time.Millisecond)
	h.load(token)
	h.clk.Advance(time.Millisecond)
	h.missing(token)
	h.notFoundOnSave(token, set("b", 2))
	h.missing(token)
}

// testAbsoluteLifetime: a session with a lifetime ends at created+lifetime
// however active it is.
func testAbsoluteLifetime(h *harness) {
	t0 := h.clk.Now()
	token, _ := h.create(set("a", 1), withLifetime(lifetime))
	wantTime(h.t, "Expires", h.load(token).Expires, t0.Add(lifetime))
	for range 2 { // stay active: touch every 20 minutes
		h.clk.Advance(20 * time.Minute)
		token = h.save(token)
	}
	h.clk.Advance(lifetime - 40*time.Minute - time.Millisecond)
	rec := h.load(token)
	wantTime(h.t, "Deadline()", rec.Deadline(), t0.Add(lifetime))
	h.clk.Advance(time.Millisecond)
	h.missing(token)
	h.notFoundOnSave(token, set("b", 2))
}

// testNewLifetime: a patch with Expires gives an existing session that
// absolute deadline (Session.SetTimeouts at a login with "remember me"),
// later or earlier than the one it had, or the first one it has; later
// touches keep it and a renew carries it along.
func testNewLifetime(h *harness) {
	t0 := h.clk.Now()
	token, _ := h.create(set("a", 1), withLifetime(lifetime))
	h.clk.Advance(20 * time.Minute)
	later := t0.Add(3 * lifetime)
	token = h.save(token, set("b", 2), withExpires(later))
	wantTime(h.t, "Expires", h.load(token).Expires, later)
	for h.clk.Now().Before(t0.Add(2 * lifetime)) { // active past the first lifetime
		h.clk.Advance(20 * time.Minute)
		token = h.save(token)
	}
	rec := h.load(token)
	wantTime(h.t, "Expires", rec.Expires, later)
	wantKeys(h.t, rec, "a", "b")
	earlier := h.clk.Now().Add(10 * time.Minute)
	token = h.save(token, renewTo(session.NewID()), withExpires(earlier))
	rec = h.load(token)
	wantTime(h.t, "Deadline()", rec.Deadline(), earlier)
	h.clk.Advance(10*time.Minute - time.Millisecond)
	h.load(token)
	h.clk.Advance(time.Millisecond)
	h.missing(token)

	first, _ := h.create(set("a", 1))
	end := h.clk.Now().Add(5 * time.Minute)
	first = h.save(first, withExpires(end))
	rec = h.load(first)
	wantTime(h.t, "Deadline()", rec.Deadline(), end)
}

// testTouchSlidesIdle: an empty patch (a touch) moves the idle deadline and
// keeps the values.
func testTouchSlidesIdle(h *harness) {
	t0 := h.clk.Now()
	token, _ := h.create(set("a", 1))
	h.clk.Advance(20 * time.Minute)
	token = h.save(token)
	rec := h.load(token)
	wantTime(h.t, "Touched", rec.Touched, t0.Add(20*time.Minute))
	wantTime(h.t, "Idle", rec.Idle, t0.Add(20*time.Minute+idle))
	wantKeys(h.t, rec, "a")
	h.clk.Advance(25 * time.Minute) // past the first idle deadline
	h.load(token)
	h.clk.Advance(5 * time.Minute)
	h.missing(token)
}

// testRenew: the session moves to a new ID with its data; the old token
// stops working.
func testRenew(h *harness) {
	token, _ := h.create(set("a", 1), set("b", "x"))
	before := h.load(token)
	newID := session.NewID()
	renewed := h.save(token, renewTo(newID), set("c", true))
	if !h.stateless && renewed != newID {
		h.t.Fatalf("Save with NewID %s returned token %s; want the new ID", newID, renewed)
	}
	rec := h.load(renewed)
	if rec.ID != newID {
		h.t.Fatalf("renewed session has ID %s; want %s", rec.ID, newID)
	}
	wantKeys(h.t, rec, "a", "b", "c")
	wantTime(h.t, "Created", rec.Created, before.Created)
	if h.stateless {
		return
	}
	h.missing(token)
	h.notFoundOnSave(token, set("d", 4))
	other := session.NewID()
	h.notFoundOnSave(token, renewTo(other))
	h.missing(other)
	wantKeys(h.t, h.load(renewed), "a", "b", "c")
}

// testDestroy: after Delete the session is gone for good; Delete is
// idempotent.
func testDestroy(h *harness) {
	token, _ := h.create(set("a", 1))
	if err := h.st.Delete(h.ctx, token); err != nil {
		h.t.Fatalf("Delete: %v", err)
	}
	if h.stateless {
		return // a cookie store cannot revoke; Delete only must not fail
	}
	h.missing(token)
	h.notFoundOnSave(token, set("b", 2))
	h.missing(token)
	if err := h.st.Delete(h.ctx, token); err != nil {
		h.t.Fatalf("second Delete: %v; want nil (deleting a missing session is not an error)", err)
	}
}

// testUnknownToken: a well-formed ID that names no session is never adopted.
func testUnknownToken(h *harness) {
	id := session.NewID()
	h.missing(id)
	h.notFoundOnSave(id, set("a", 1))
	h.missing(id)
	newID := session.NewID()
	h.notFoundOnSave(id, renewTo(newID))
	h.missing(newID)
	if err := h.st.Delete(h.ctx, id); err != nil {
		h.t.Fatalf("Delete of an unknown ID: %v; want nil", err)
	}
}

// testMalformedTokens: tokens of the wrong shape load as not found with a nil
// error, cannot be patched, and never reach the real session they resemble.
func testMalformedTokens(h *harness) {
	token, id := h.create(set("a", 1))
	bad := []string{"", strings.Repeat("A", 10<<10), id + strings.Repeat("A", 10<<10)}
	for _, s := range uniq(id, token) {
		bad = append(bad, malformed(s)...)
	}
	for _, b := range bad {
		h.missing(b)
		if b != "" {
			h.notFoundOnSave(b, set("b", 2))
		}
		if err := h.st.Delete(h.ctx, b); err != nil {
			h.t.Fatalf("Delete(%.50q): %v; want nil", b, err)
		}
	}
	rec := h.load(token)
	wantKeys(h.t, rec, "a")
}

// malformed returns variants of a base64url token that a lax parser would
// accept or confuse with it.
func malformed(s string) []string {
	mid := len(s) / 2
	out := []string{s[:len(s)-1], s + "A", " " + s, s + "\n", s + "="}
	for _, c := range []string{"+", "/", ".", " ", "\n", "\x00", "é", "%"} {
		out = append(out, s[:mid]+c+s[mid+1:])
	}
	if nc, ok := nonCanonical(s); ok {
		out = append(out, nc)
	}
	return out
}

// nonCanonical returns s with padding bits set in its last character: the
// same bytes to a lax base64 decoder, a different token to a strict one.
func nonCanonical(s string) (string, bool) {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	padBits := len(s) * 6 % 8
	last := strings.IndexByte(alphabet, s[len(s)-1])
	if padBits == 0 || last < 0 {
		return "", false
	}
	return s[:len(s)-1] + string(alphabet[last|1]), last|1 != last
}

// testTamperedToken: a real token with one character changed loads as not
// found, cannot be patched, and leaves the real session alone.
func testTamperedToken(h *harness) {
	token, _ := h.create(set("a", 1))
	for _, i := range uniqInts(0, 1, len(token)/2, len(token)-2, len(token)-1) {
		c := byte('A')
		if token[i] == c {
			c = 'B'
		}
		tampered := token[:i] + string(c) + token[i+1:]
		h.missing(tampered)
		h.notFoundOnSave(tampered, set("b", 2))
	}
	wantKeys(h.t, h.load(token), "a")
}

// testTooLarge: a session over the store's limit fails with ErrTooLarge and
// changes nothing.
func testTooLarge(h *harness) {
	big := []byte(`"` + strings.Repeat("x", 2<<20-2) + `"`)
	token, _ := h.create(set("a", 1))
	before := h.load(token)
	wantTooLarge(h.t, h.saveErr(token, setRaw("big", big)))
	rec := h.load(token)
	wantKeys(h.t, rec, "a")
	if rec.Version != before.Version {
		h.t.Fatalf("Version %d after a refused patch; want %d (unchanged)", rec.Version, before.Version)
	}
	newID := session.NewID()
	wantTooLarge(h.t, h.saveErr(token, renewTo(newID), setRaw("big", big)))
	h.missing(newID)
	wantKeys(h.t, h.load(token), "a")
	fresh := session.NewID()
	wantTooLarge(h.t, h.saveErr("", renewTo(fresh), setRaw("big", big)))
	h.missing(fresh)
}

func wantTooLarge(t *testing.T, err error) {
	t.Helper()
	if !errors.Is(err, session.ErrTooLarge) {
		t.Fatalf("Save of a 2 MiB value: %v; want an error wrapping session.ErrTooLarge", err)
	}
}

// testVersionIncreases: every save, of any kind, increases Version.
func testVersionIncreases(h *harness) {
	token, _ := h.create(set("a", 1))
	last := h.load(token).Version
	steps := []struct {
		name  string
		edits []edit
	}{
		{"set", []edit{set("b", 2)}},
		{"delete", []edit{del("a")}},
		{"touch", nil},
		{"clear", []edit{clearAll()}},
		{"renew", []edit{renewTo(session.NewID())}},
	}
	for _, s := range steps {
		h.clk.Advance(time.Second)
		token = h.save(token, s.edits...)
		v := h.load(token).Version
		if v <= last {
			h.t.Fatalf("Version after %s = %d; want more than %d", s.name, v, last)
		}
		last = v
	}
}

// testCreatedKept: Created is the first save's time, kept across patches,
// touches and renew, while Touched follows the clock.
func testCreatedKept(h *harness) {
	t0 := h.clk.Now()
	token, _ := h.create(set("a", 1))
	wantTime(h.t, "Created", h.load(token).Created, t0)
	for _, e := range [][]edit{{set("b", 2)}, nil, {renewTo(session.NewID())}} {
		h.clk.Advance(5 * time.Minute)
		token = h.save(token, e...)
		rec := h.load(token)
		wantTime(h.t, "Created", rec.Created, t0)
		wantTime(h.t, "Touched", rec.Touched, h.clk.Now())
	}
}

func wantTime(t *testing.T, name string, got, want time.Time) {
	t.Helper()
	if !got.Equal(want) {
		t.Fatalf("%s = %s; want %s", name, got.Format(time.RFC3339Nano), want.Format(time.RFC3339Nano))
	}
}

func uniq(s ...string) []string {
	var out []string
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			out = append(out, v)
		}
	}
	return out
}

func uniqInts(s ...int) []int {
	seen := make(map[int]bool)
	var out []int
	for _, v := range s {
		if v >= 0 && !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}
