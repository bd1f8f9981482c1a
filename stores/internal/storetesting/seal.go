package storetesting

import (
	"bytes"
	"testing"

	"github.com/sessionmesh/sessionmesh/stores/internal/aead"
)

// Key is a sealing key with the given ID whose secret is fill repeated.
func Key(id string, fill byte) aead.Key {
	return aead.Key{ID: id, Secret: bytes.Repeat([]byte{fill}, aead.KeySize)}
}

// Secret is a value no store may keep in the clear: the tests of sealing
// look for it in what the server holds.
const Secret = `"the-plaintext-that-must-not-be-stored"`

// WantNoPlaintext fails the test when raw, something a server holds, has
// Secret or the session key "user" in it.
func WantNoPlaintext(t testing.TB, what string, raw []byte) {
	t.Helper()
	for _, s := range []string{Secret, "plaintext", "user"} {
		if bytes.Contains(raw, []byte(s)) {
			t.Fatalf("%s holds %q in the clear: %q", what, s, raw)
		}
	}
}
