package cookie

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/sessionmesh/sessionmesh/session"
	"github.com/sessionmesh/sessionmesh/stores/storetest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var ctx = context.Background()

func testKey(id string, fill byte) Key {
	return Key{ID: id, Secret: bytes.Repeat([]byte{fill}, KeySize)}
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T, now func() time.Time) session.Store {
		return newStore(t, Config{Keys: []Key{testKey("k1", 1)}, Now: now})
	})
}

func newStore(t testing.TB, cfg Config) *Store {
	t.Helper()
	s, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s
}

// newClock is a settable clock for the tests of this package, at a fixed
// date.
func newClock() *storetest.Clock {
	return storetest.NewClock(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
}

// seal saves a new session with "user" = "ada" and returns its cookie value.
func seal(t testing.TB, s *Store, now time.Time) string {
	t.Helper()
	p := session.Patch{NewID: session.NewID(), Now: now, Idle: time.Hour, Set: map[string][]byte{"user": []byte(`"ada"`)}}
	token, err := s.Save(ctx, "", p)
	if err != nil {
		t.Fatalf("Save: %v", err)
	}
	return token
}

// opens reports whether s loads token, failing the test on an error: no
// token, however broken, is an error.
func opens(t *testing.T, s *Store, token string) bool {
	t.Helper()
	rec, found, err := s.Load(ctx, token)
	if err != nil {
		t.Fatalf("Load(%.40q): %v; want a nil error", token, err)
	}
	if found && string(rec.Values["user"]) != `"ada"` {
		t.Fatalf("Load found %v; want user=ada", rec.Values)
	}
	return found
}

func patchRefused(t *testing.T, s *Store, token string, now time.Time) {
	t.Helper()
	p := session.Patch{Now: now, Idle: time.Hour, Set: map[string][]byte{"x": []byte("1")}}
	if _, err := s.Save(ctx, token, p); !errors.Is(err, session.ErrNotFound) {
		t.Fatalf("Save on a cookie that must not open: %v; want ErrNotFound", err)
	}
}

func TestParseKey(t *testing.T) {
	secret := bytes.Repeat([]byte{0xfb}, KeySize) // 0xfb makes + and / in standard base64
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		s := "k-1_A:" + enc.EncodeToString(secret)
		k, err := ParseKey(" " + s + "\n")
		if err != nil || k.ID != "k-1_A" || !bytes.Equal(k.Secret, secret) {
			t.Errorf("ParseKey(%q) = %v, %v", s, k, err)
		}
	}
	short := base64.StdEncoding.EncodeToString(secret[:16])
	long := base64.StdEncoding.EncodeToString(append(secret, secret...))
	bad := []struct{ in, want string }{
		{"no-colon", "ID:BASE64"},
		{":" + short, "key ID"},
		{strings.Repeat("k", 17) + ":" + short, "key ID"},
		{"k.1:" + short, "key ID"},
		{"k1:not base64!", "not base64"},
		{"k1:" + short, "16 bytes; want exactly 32"},
		{"k1:" + long, "64 bytes; want exactly 32"},
		{"k1:", "0 bytes; want exactly 32"},
	}
	for _, b := range bad {
		_, err := ParseKey(b.in)
		if !errors.Is(err, ErrInvalidKey) || !strings.Contains(err.Error(), b.want) {
			t.Errorf("ParseKey(%q) = %v; want ErrInvalidKey saying %q", b.in, err, b.want)
		}
		if err != nil && strings.Contains(err.Error(), short[:8]) {
			t.Errorf("ParseKey's error %q shows the secret", err)
		}
	}
}

func TestNewRefusesBadConfig(t *testing.T) {
	k1 := testKey("k1", 1)
	tests := []struct {
		cfg  Config
		want string
	}{
		{Config{}, "Keys is empty"},
		{Config{Keys: []Key{{ID: "k", Secret: make([]byte, 16)}}}, "Keys[0]: cookie: invalid key \"k\": the secret is 16 bytes; want exactly 32"},
		{Config{Keys: []Key{k1, {ID: "k2", Secret: make([]byte, 33)}}}, "Keys[1]"},
		{Config{Keys: []Key{k1, {ID: "", Secret: make([]byte, 32)}}}, "key ID"},
		{Config{Keys: []Key{k1, testKey("k1", 2)}}, "distinct"},
		{Config{Keys: []Key{k1}, CookieName: "my cookie"}, "CookieName"},
	}
	for _, tt := range tests {
		_, err := New(tt.cfg)
		if !errors.Is(err, session.ErrInvalidConfig) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("New(%v) = %v; want ErrInvalidConfig saying %q", tt.cfg, err, tt.want)
		}
	}
	if c := DefaultConfig(k1); c.CookieName != "sid" || c.Now == nil || len(c.Keys) != 1 {
		t.Errorf("DefaultConfig = %+v", c)
	}
}

// TestValidateListsEveryProblem: every bad key and the cookie name are
// named, each error still matching ErrInvalidConfig, bad keys ErrInvalidKey.
func TestValidateListsEveryProblem(t *testing.T) {
	k1 := testKey("k1", 1)
	err := (&Config{Keys: []Key{{ID: "k0", Secret: make([]byte, 16)}, k1, {ID: "", Secret: make([]byte, 32)}, testKey("k1", 2)},
		CookieName: "my cookie"}).Validate()
	if !errors.Is(err, session.ErrInvalidConfig) || !errors.Is(err, ErrInvalidKey) {
		t.Fatalf("Validate() = %v; want ErrInvalidConfig and ErrInvalidKey", err)
	}
	for _, w := range []string{"Keys[0]", "16 bytes", "Keys[2]", "key ID", "Keys[3] has the ID \"k1\" of Keys[1]", "CookieName"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("Validate() does not say %s:\n%v", w, err)
		}
	}
	if strings.Contains(err.Error(), "Keys[1]:") {
		t.Errorf("Validate() complains about the good key Keys[1]:\n%v", err)
	}
}

// Changing a key's secret after New must not change the store.
func TestNewCopiesSecrets(t *testing.T) {
	k := testKey("k1", 1)
	s := newStore(t, Config{Keys: []Key{k}})
	token := seal(t, s, time.Now())
	k.Secret[0] ^= 0xff
	if !opens(t, s, token) {
		t.Fatal("the store shares its secret with the caller's Config")
	}
}

// Every single-byte change of a cookie, anywhere, makes it not open.
func TestTamperedCookie(t *testing.T) {
	s := newStore(t, Config{Keys: []Key{testKey("k1", 1)}})
	token := seal(t, s, time.Now())
	env, err := encoding.DecodeString(token)
	if err != nil {
		t.Fatal(err)
	}
	for i := range env {
		for _, flip := range []byte{0x01, 0x80} {
			forged := bytes.Clone(env)
			forged[i] ^= flip
			tampered := encoding.EncodeToString(forged)
			if opens(t, s, tampered) {
				t.Fatalf("a cookie with byte %d flipped by %#x opened", i, flip)
			}
		}
	}
	for _, cut := range []int{1, tagSize, len(token) - 3} {
		if opens(t, s, token[:len(token)-cut]) {
			t.Fatalf("a cookie cut short by %d characters opened", cut)
		}
	}
	if !opens(t, s, token) {
		t.Fatal("the untouched cookie does not open")
	}
}

func TestRemovedKey(t *testing.T) {
	clk := newClock()
	old := newStore(t, Config{Keys: []Key{testKey("k1", 1)}, Now: clk.Now})
	token := seal(t, old, clk.Now())
	rotatedOut := newStore(t, Config{Keys: []Key{testKey("k2", 2)}, Now: clk.Now})
	if opens(t, rotatedOut, token) {
		t.Fatal("a cookie sealed with a removed key opened")
	}
	patchRefused(t, rotatedOut, token, clk.Now())
	// Same ID, another secret: the key ID alone must not open anything.
	impostor := newStore(t, Config{Keys: []Key{testKey("k1", 9)}, Now: clk.Now})
	if opens(t, impostor, token) {
		t.Fatal("a cookie opened with another secret under the same key ID")
	}
}

// The first key seals, every key opens, and a write moves a cookie to the
// new key.
func TestRotation(t *testing.T) {
	clk := newClock()
	k1, k2 := testKey("k1", 1), testKey("k2", 2)
	before := newStore(t, Config{Keys: []Key{k1}, Now: clk.Now})
	during := newStore(t, Config{Keys: []Key{k2, k1}, Now: clk.Now})
	onlyNew := newStore(t, Config{Keys: []Key{k2}, Now: clk.Now})

	oldCookie := seal(t, before, clk.Now())
	if !opens(t, during, oldCookie) {
		t.Fatal("the old key no longer opens its cookies during rotation")
	}
	p := session.Patch{Now: clk.Now(), Idle: time.Hour, Set: map[string][]byte{"n": []byte("1")}}
	resealed, err := during.Save(ctx, oldCookie, p)
	if err != nil {
		t.Fatalf("Save during rotation: %v", err)
	}
	if !opens(t, onlyNew, resealed) || opens(t, before, resealed) {
		t.Fatal("a write during rotation did not seal with the new (first) key")
	}
	if opens(t, onlyNew, oldCookie) {
		t.Fatal("a cookie of the removed key opened after rotation")
	}
}

// A cookie copied to another cookie name (another app with the same keys)
// does not open there.
func TestOtherCookieName(t *testing.T) {
	keys := []Key{testKey("k1", 1)}
	sid := newStore(t, Config{Keys: keys})
	other := newStore(t, Config{Keys: keys, CookieName: "admin_sid"})
	token := seal(t, sid, time.Now())
	if opens(t, other, token) {
		t.Fatal("a cookie sealed for sid opened as admin_sid")
	}
	patchRefused(t, other, token, time.Now())
	if !opens(t, newStore(t, Config{Keys: keys, CookieName: "sid"}), token) {
		t.Fatal("the default cookie name is not sid")
	}
}

func TestExpiredCookie(t *testing.T) {
	clk := newClock()
	s := newStore(t, Config{Keys: []Key{testKey("k1", 1)}, Now: clk.Now})
	token := seal(t, s, clk.Now())
	clk.Advance(time.Hour - time.Nanosecond)
	if !opens(t, s, token) {
		t.Fatal("the cookie did not open before its deadline")
	}
	clk.Advance(time.Nanosecond)
	if opens(t, s, token) {
		t.Fatal("an expired cookie opened")
	}
	patchRefused(t, s, token, clk.Now())
}

// The cookie limit is exact: the largest session that fits makes a cookie
// of at most 4096 bytes; one more byte fails with ErrCookieTooLarge naming
// the size, and Save on an old cookie fails the same way.
func TestCookieTooLarge(t *testing.T) {
	clk := newClock()
	s := newStore(t, Config{Keys: []Key{testKey("k1", 1)}, Now: clk.Now})
	token := seal(t, s, clk.Now())
	save := func(n int) (string, error) {
		p := session.Patch{Now: clk.Now(), Idle: time.Hour, Set: map[string][]byte{"big": bytes.Repeat([]byte("x"), n)}}
		return s.Save(ctx, token, p)
	}
	n := 0
	for ; ; n++ {
		if _, err := save(n + 1); err != nil {
			break
		}
	}
	fits, err := save(n)
	if err != nil || len("sid=")+len(fits) > MaxCookieBytes || len("sid=")+len(fits) < MaxCookieBytes-3 {
		t.Fatalf("largest session that fits: cookie of %d bytes, %v; want 4093 to 4096", len("sid=")+len(fits), err)
	}
	_, err = save(n + 3)
	if !errors.Is(err, ErrCookieTooLarge) || !errors.Is(err, session.ErrTooLarge) || !strings.Contains(err.Error(), "sid=value would be 4") {
		t.Fatalf("Save over the limit: %v; want ErrCookieTooLarge (and ErrTooLarge) naming the size", err)
	}
	if !opens(t, s, token) {
		t.Fatal("the old cookie stopped opening after a refused Save")
	}
}

// Delete cannot revoke: the cookie keeps opening (documented limitation).
func TestDeleteCannotRevoke(t *testing.T) {
	s := newStore(t, Config{Keys: []Key{testKey("k1", 1)}})
	token := seal(t, s, time.Now())
	if err := s.Delete(ctx, token); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if !opens(t, s, token) {
		t.Fatal("Delete revoked the cookie; the docs say a cookie store cannot")
	}
}

// Each seal draws a fresh nonce: two seals of the same session differ, and
// the token is a cookie-safe base64url string.
func TestSealIsRandomizedAndCookieSafe(t *testing.T) {
	s := newStore(t, Config{Keys: []Key{testKey("k1", 1)}})
	rec := session.Record{ID: session.NewID(), Idle: time.Now().Add(time.Hour)}
	a, errA := s.seal(&rec)
	b, errB := s.seal(&rec)
	if errA != nil || errB != nil || a == b {
		t.Fatalf("two seals of one record: %q, %q (%v, %v); want two different tokens", a, b, errA, errB)
	}
	if strings.Trim(a, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") != "" {
		t.Fatalf("token %q has characters outside base64url", a)
	}
}

func TestKeysNeverPrinted(t *testing.T) {
	k, err := ParseKey("k1:" + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte("S"), KeySize)))
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Keys: []Key{k}}
	for _, out := range []string{fmt.Sprint(cfg), fmt.Sprintf("%+v", cfg), fmt.Sprintf("%#v", cfg), fmt.Sprint(k)} {
		if strings.Contains(out, "SSSS") || strings.Contains(out, "83 83") || !strings.Contains(out, "k1") {
			t.Errorf("printing a Config gives %q; want the key ID and not the secret", out)
		}
	}
}

func TestSaveRefusesBadNewID(t *testing.T) {
	s := newStore(t, Config{Keys: []Key{testKey("k1", 1)}})
	for _, id := range []string{"", "short"} {
		if _, err := s.Save(ctx, "", session.Patch{NewID: id, Now: time.Now(), Idle: time.Hour}); !errors.Is(err, ErrInvalidID) {
			t.Errorf("Save of a new session with NewID %q: %v; want ErrInvalidID", id, err)
		}
	}
	token := seal(t, s, time.Now())
	if _, err := s.Save(ctx, token, session.Patch{NewID: "bad", Now: time.Now(), Idle: time.Hour}); !errors.Is(err, ErrInvalidID) {
		t.Errorf("renew to a bad ID: %v; want ErrInvalidID", err)
	}
}
