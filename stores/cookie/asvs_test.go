package cookie

// Tests named after the OWASP ASVS requirement and cheat-sheet point
// SECURITY.md maps to this package: stateless tokens resist tampering,
// enveloping, replay, null cipher and key substitution (ASVS 4.0.3
// V3.5.3; TestTamperedCookie flips every bit position, this plays the
// named attacks), and a token's content reveals nothing.

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/sessionmesh/sessionmesh/session"
)

func TestASVS_V3_5_3_StatelessTokenAttacks(t *testing.T) {
	clk := newClock()
	s := newStore(t, Config{Keys: []Key{testKey("k1", 1), testKey("k2", 2)}, Now: clk.Now})
	token := seal(t, s, clk.Now()) // sealed with k1, the first key
	env, err := encoding.DecodeString(token)
	if err != nil {
		t.Fatal(err)
	}
	idAt := 2 // format | key ID length | key ID ...
	if string(env[idAt:idAt+2]) != "k1" {
		t.Fatalf("envelope %q does not name key k1 where expected", env[:8])
	}
	reenvelope := func(f func(env []byte) []byte) string {
		return encoding.EncodeToString(f(bytes.Clone(env)))
	}
	attacks := map[string]string{
		// Another key the store holds named in the envelope: the sealed
		// part must not open under it, and the key ID is authenticated.
		"key substitution": reenvelope(func(e []byte) []byte { e[idAt+1] = '2'; return e }),
		// Envelope formats the store does not know, 0 among them: there is
		// no unsealed ("null cipher") form to downgrade to.
		"format 0 (null cipher)": reenvelope(func(e []byte) []byte { e[0] = 0; return e }),
		"format 2":               reenvelope(func(e []byte) []byte { e[0] = 2; return e }),
		// The sealed part under an empty key ID.
		"no key ID": reenvelope(func(e []byte) []byte { return append([]byte{e[0], 0}, e[idAt+2:]...) }),
		// The sealed part alone, without its envelope.
		"sealed part alone": reenvelope(func(e []byte) []byte { return e[idAt+2:] }),
	}
	for name, forged := range attacks {
		if opens(t, s, forged) {
			t.Errorf("%s: the forged cookie opened", name)
		}
		patchRefused(t, s, forged, clk.Now())
	}
	// Replay: the cookie opens until the deadline sealed inside it (the
	// store cannot revoke it earlier: doc.go), never after, whatever
	// Max-Age the browser was told.
	if !opens(t, s, token) {
		t.Fatal("the untouched cookie does not open")
	}
	clk.Advance(time.Hour) // seal's idle timeout
	if opens(t, s, token) {
		t.Fatal("a replayed cookie opened after the deadline sealed inside it")
	}
}

// TestCheatSheet_TokenContentRevealsNothing: the OWASP cheat sheet wants a
// token that tells its holder nothing. The cookie store's token carries
// the session, but sealed: neither a value nor the session ID appears in
// it, decoded or not.
func TestCheatSheet_TokenContentRevealsNothing(t *testing.T) {
	s := newStore(t, Config{Keys: []Key{testKey("k1", 1)}})
	id := session.NewID()
	p := session.Patch{NewID: id, Now: time.Now(), Idle: time.Hour, Set: map[string][]byte{"email": []byte(`"alice@example.com"`)}}
	token, err := s.Save(ctx, "", p)
	if err != nil {
		t.Fatal(err)
	}
	env, err := encoding.DecodeString(token)
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{"alice@example.com", "email", id} {
		if strings.Contains(token, secret) || bytes.Contains(env, []byte(secret)) {
			t.Errorf("the cookie shows %q", secret)
		}
	}
}
