package aead

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func testKey(id string, fill byte) Key {
	return Key{ID: id, Secret: bytes.Repeat([]byte{fill}, KeySize)}
}

func newKeys(t *testing.T, keys ...Key) *Keys {
	t.Helper()
	ks, err := New(keys)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return ks
}

// The first key seals, every key opens, and an envelope opens only with
// the associated data it was sealed with.
func TestSealOpen(t *testing.T) {
	k1, k2 := testKey("k1", 1), testKey("k2", 2)
	old, rotating, onlyNew := newKeys(t, k1), newKeys(t, k2, k1), newKeys(t, k2)
	plain, ad := []byte("hello"), []byte("here")
	env := old.Seal(nil, plain, ad)
	if len(env) != len(plain)+old.Overhead() || bytes.Contains(env, plain) {
		t.Fatalf("envelope %x: want %d bytes without the plaintext", env, len(plain)+old.Overhead())
	}
	if got, err := rotating.Open(env, ad); err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("Open by [k2 k1] = %q, %v; want %q", got, err, plain)
	}
	if _, err := onlyNew.Open(env, ad); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("Open by [k2] of a k1 envelope: %v; want ErrUnknownKey", err)
	}
	if _, err := old.Open(env, []byte("elsewhere")); !errors.Is(err, ErrForged) {
		t.Fatalf("Open with other associated data: %v; want ErrForged", err)
	}
	if _, err := newKeys(t, testKey("k1", 9)).Open(env, ad); !errors.Is(err, ErrForged) {
		t.Fatalf("Open with another secret under the same ID: %v; want ErrForged", err)
	}
	if _, err := old.Open(rotating.Seal(nil, plain, ad), ad); !errors.Is(err, ErrUnknownKey) {
		t.Fatal("[k2 k1] did not seal with its first key, k2")
	}
}

func TestOpenRefusesBadEnvelopes(t *testing.T) {
	ks := newKeys(t, testKey("k1", 1))
	env := ks.Seal(nil, []byte("x"), nil)
	for i := range env {
		forged := bytes.Clone(env)
		forged[i] ^= 0x01
		if _, err := ks.Open(forged, nil); err == nil {
			t.Fatalf("an envelope with byte %d flipped opened", i)
		}
	}
	longID := append([]byte{1, 17}, bytes.Repeat([]byte("k"), 17+NonceSize+TagSize)...)
	for _, bad := range [][]byte{nil, {1}, {2, 2, 'k', '1'}, env[:len(env)-1], env[:4+NonceSize+TagSize-1], longID} {
		if _, err := ks.Open(bad, nil); err == nil {
			t.Fatalf("Open(%x) succeeded", bad)
		}
	}
}

// A key written the wrong way round puts its secret where the ID goes: the
// error gives the ID's length, never the ID.
func TestBadKeyIDIsNotQuoted(t *testing.T) {
	secret := "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3I"
	_, err := ParseKey(secret + ":k1")
	if err == nil || strings.Contains(err.Error(), secret[:8]) {
		t.Fatalf("ParseKey(BASE64:ID) = %v; want an error without the secret", err)
	}
}

func TestCheck(t *testing.T) {
	errs := Check([]Key{{ID: "k0", Secret: make([]byte, 16)}, testKey("k1", 1), {ID: "", Secret: make([]byte, 32)}, testKey("k1", 2)}, "redis")
	got := errors.Join(errs...).Error()
	for _, w := range []string{`Keys[0]: redis: invalid key "k0": the secret is 16 bytes`, "Keys[2]: redis: invalid key: the key ID (0 characters)", `Keys[3] has the ID "k1" of Keys[1]`} {
		if !strings.Contains(got, w) {
			t.Errorf("Check does not say %s:\n%s", w, got)
		}
	}
	if len(errs) != 3 || !errors.Is(errs[0], ErrInvalidKey) {
		t.Errorf("Check = %d errors (%v); want 3, keys' wrapping ErrInvalidKey", len(errs), errs)
	}
	if _, err := New(nil); !errors.Is(err, ErrInvalidKey) {
		t.Errorf("New(nil) = %v; want ErrInvalidKey", err)
	}
}

// BenchmarkSealOpen: the CPU cost sealing adds to a save and a load of the
// storebench session (~200 bytes): Memcache seals the record whole, Redis
// each of its five values.
func BenchmarkSealOpen(b *testing.B) {
	ks, err := New([]Key{testKey("k1", 1)})
	if err != nil {
		b.Fatal(err)
	}
	for name, sizes := range map[string][]int{"memcache-record": {200}, "redis-5-values": {80, 45, 13, 6, 1}} {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				for _, n := range sizes {
					plain, ad := make([]byte, n), []byte("redis\x00user")
					if _, err := ks.Open(ks.Seal(nil, plain, ad), ad); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}
