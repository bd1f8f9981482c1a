package aead

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

// KeySize is the length of a Key's secret: AES-256.
const KeySize = 32

// MaxIDLen is the longest key ID; every envelope carries it.
const MaxIDLen = 16

// ErrInvalidKey is returned for a key with a bad ID or a secret that is not
// exactly KeySize bytes.
var ErrInvalidKey = errors.New("invalid key")

// Key is one sealing key.
type Key struct {
	// ID names the key inside every envelope it seals, so that the key
	// that opens it is found: 1 to 16 characters of [A-Za-z0-9_-].
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
	if !validIDBytes([]byte(k.ID)) {
		// Its length, not the ID: a key written the wrong way round
		// (BASE64:ID) has its secret where the ID goes.
		return fmt.Errorf("%w: the key ID (%d characters) must be 1 to %d characters of A-Z, a-z, 0-9, _ and -", ErrInvalidKey, len(k.ID), MaxIDLen)
	}
	return nil
}

// validIDBytes reports whether id can be a key ID.
func validIDBytes(id []byte) bool {
	return len(id) > 0 && len(id) <= MaxIDLen && bytes.IndexFunc(id, notIDChar) < 0
}

func notIDChar(c rune) bool {
	return !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-')
}

// String shows the key's ID only, so that logging a Config never leaks a
// secret.
func (k Key) String() string { return k.ID + ":<secret>" }

// GoString is String for %#v.
func (k Key) GoString() string {
	return "aead.Key{ID: " + fmt.Sprintf("%q", k.ID) + ", Secret: <secret>}"
}

// Check reports every problem of a key list, each naming the key by its
// index ("Keys[2]") and never a secret: a key that is not valid (its error
// introduced by owner, the package the keys configure, and wrapping
// ErrInvalidKey) and an ID that an earlier key has. An empty list is no
// problem here: whether keys are required is the owner's rule.
func Check(keys []Key, owner string) []error {
	var errs []error
	seen := make(map[string]int, len(keys))
	for i, k := range keys {
		if err := k.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("Keys[%d]: %s: %w", i, owner, err))
		}
		if j, dup := seen[k.ID]; dup {
			errs = append(errs, fmt.Errorf("Keys[%d] has the ID %q of Keys[%d]; key IDs must be distinct", i, k.ID, j))
		} else {
			seen[k.ID] = i
		}
	}
	return errs
}
