package cookie

import (
	"encoding/base64"
	"fmt"
	"strings"
)

// KeySize is the length of a Key's secret: AES-256.
const KeySize = 32

// maxKeyIDLen is the longest key ID; the envelope carries it in every cookie.
const maxKeyIDLen = 16

// Key is one sealing key.
type Key struct {
	// ID names the key inside every cookie it seals, so the store knows
	// which key opens a cookie: 1 to 16 characters of [A-Za-z0-9_-].
	ID string

	// Secret is the AES-256 key: exactly 32 bytes from a cryptographic
	// random source.
	Secret []byte
}

// ParseKey parses "ID:BASE64", where BASE64 (standard or URL alphabet,
// padded or not) decodes to exactly 32 bytes. Errors name the key ID, never
// the secret.
func ParseKey(s string) (Key, error) {
	id, secret, ok := strings.Cut(strings.TrimSpace(s), ":")
	if !ok {
		return Key{}, fmt.Errorf("%w: want ID:BASE64 (a key ID, a colon and a base64 secret of %d bytes)", ErrInvalidKey, KeySize)
	}
	k := Key{ID: id}
	if err := k.validID(); err != nil {
		return Key{}, err
	}
	b, err := decodeSecret(secret)
	if err != nil {
		return Key{}, fmt.Errorf("%w %q: the secret is not base64: %v", ErrInvalidKey, id, err)
	}
	k.Secret = b
	return k, k.Validate()
}

// decodeSecret accepts every common spelling of base64, since keys are
// pasted from many tools.
func decodeSecret(s string) ([]byte, error) {
	var err error
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		var b []byte
		if b, err = enc.DecodeString(s); err == nil {
			return b, nil
		}
	}
	return nil, err
}

// Validate reports what is wrong with k, naming its ID but never its secret.
func (k Key) Validate() error {
	if err := k.validID(); err != nil {
		return err
	}
	if len(k.Secret) != KeySize {
		return fmt.Errorf("%w %q: the secret is %d bytes; want exactly %d (AES-256)", ErrInvalidKey, k.ID, len(k.Secret), KeySize)
	}
	return nil
}

func (k Key) validID() error {
	if k.ID == "" || len(k.ID) > maxKeyIDLen || strings.IndexFunc(k.ID, notIDChar) >= 0 {
		return fmt.Errorf("%w: key ID %.40q must be 1 to %d characters of A-Z, a-z, 0-9, _ and -", ErrInvalidKey, k.ID, maxKeyIDLen)
	}
	return nil
}

func notIDChar(c rune) bool {
	return !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-')
}

// String shows the key's ID only, so that logging a Config never leaks a
// secret.
func (k Key) String() string { return k.ID + ":<secret>" }

// GoString is String for %#v.
func (k Key) GoString() string {
	return "cookie.Key{ID: " + fmt.Sprintf("%q", k.ID) + ", Secret: <secret>}"
}
