package cookie

import (
	"fmt"

	"github.com/sessionmesh/sessionmesh/stores/internal/aead"
)

// KeySize is the length of a Key's secret: AES-256.
const KeySize = aead.KeySize

// Key is one sealing key: an ID of 1 to 16 characters of [A-Za-z0-9_-],
// which every cookie it seals carries so that the store knows which key
// opens a cookie, and a Secret of exactly 32 bytes from a cryptographic
// random source. It is the key type of the Redis and Memcache stores'
// sealing too. Printing a Key shows its ID only.
type Key = aead.Key

// ParseKey parses "ID:BASE64", where BASE64 (standard or URL alphabet,
// padded or not) decodes to exactly 32 bytes. Errors name the key ID, never
// the secret.
func ParseKey(s string) (Key, error) {
	k, err := aead.ParseKey(s)
	if err != nil {
		return Key{}, fmt.Errorf("cookie: %w", err)
	}
	return k, nil
}
