package aead

import (
	"crypto/aes"
	"crypto/cipher"
	"errors"
	"fmt"
)

// Why an envelope did not open.
var (
	ErrMalformed  = errors.New("malformed envelope")
	ErrUnknownKey = errors.New("sealed with an unknown key")
	ErrForged     = errors.New("authentication failed (tampered, or sealed for another place)")
)

// format is the envelope's first byte; a new layout gets a new value so that
// old envelopes fail to open instead of being misread.
const format = 1

// Sizes of the envelope's fixed parts (GCM's standard nonce and tag).
const (
	NonceSize = 12
	TagSize   = 16
)

// Keys seals with its first key and opens with any of them. It is safe for
// concurrent use.
type Keys struct {
	first *sealer
	byID  map[string]*sealer
}

// sealer is one key, ready to use: its cipher and the envelope header it
// writes, which starts the associated data it binds.
type sealer struct {
	aead   cipher.AEAD // AES-256-GCM that draws and prepends a random nonce
	header []byte      // format | key ID length | key ID
}

// New checks keys (at least one; see Check) and returns them ready to seal
// and open. It copies the secrets: changing them afterwards changes nothing.
func New(keys []Key) (*Keys, error) {
	if len(keys) == 0 {
		return nil, fmt.Errorf("%w: no keys", ErrInvalidKey)
	}
	if errs := Check(keys, "aead"); errs != nil {
		return nil, errors.Join(errs...)
	}
	ks := &Keys{byID: make(map[string]*sealer, len(keys))}
	for _, k := range keys {
		sl, err := newSealer(k)
		if err != nil {
			return nil, err
		}
		ks.byID[k.ID] = sl
	}
	ks.first = ks.byID[keys[0].ID]
	return ks, nil
}

func newSealer(k Key) (*sealer, error) {
	block, err := aes.NewCipher(append([]byte(nil), k.Secret...))
	if err != nil {
		return nil, fmt.Errorf("key %q: %w", k.ID, err)
	}
	gcm, err := cipher.NewGCMWithRandomNonce(block)
	if err != nil {
		return nil, fmt.Errorf("key %q: %w", k.ID, err)
	}
	return &sealer{aead: gcm, header: append([]byte{format, byte(len(k.ID))}, k.ID...)}, nil
}

// Overhead is how many bytes Seal adds to a plaintext: the first key's
// header, the nonce and the tag.
func (ks *Keys) Overhead() int { return len(ks.first.header) + NonceSize + TagSize }

// Seal appends to dst the envelope of plain sealed with the first key,
// bound to ad, and returns the result.
func (ks *Keys) Seal(dst, plain, ad []byte) []byte {
	sl := ks.first
	dst = append(dst, sl.header...)
	return sl.aead.Seal(dst, nil, plain, sl.ad(ad)) // appends nonce | ciphertext | tag
}

// Open authenticates and decrypts env with the key its header names and
// the associated data ad that it was sealed with. The error wraps
// ErrMalformed, ErrUnknownKey or ErrForged; it never holds the envelope.
func (ks *Keys) Open(env, ad []byte) ([]byte, error) {
	if len(env) < 2 || env[0] != format {
		return nil, fmt.Errorf("%w: unknown format", ErrMalformed)
	}
	idLen := int(env[1])
	if idLen == 0 || idLen > MaxIDLen {
		// Not a key ID: say nothing of the bytes, which may be anything
		// (a session ID, in a record stored before sealing was on).
		return nil, fmt.Errorf("%w: no key ID", ErrMalformed)
	}
	if len(env) < 2+idLen+NonceSize+TagSize {
		return nil, fmt.Errorf("%w: %d bytes is too short", ErrMalformed, len(env))
	}
	id := env[2 : 2+idLen]
	sl, ok := ks.byID[string(id)]
	if !ok {
		// Name the ID only when it is one (a retired key's, which is
		// what an operator needs to know); other bytes may be anything.
		if validIDBytes(id) {
			return nil, fmt.Errorf("%w %q", ErrUnknownKey, id)
		}
		return nil, fmt.Errorf("%w: %d bytes that are not a key ID", ErrUnknownKey, len(id))
	}
	plain, err := sl.aead.Open(nil, nil, env[2+idLen:], sl.ad(ad))
	if err != nil {
		return nil, ErrForged
	}
	return plain, nil
}

// ad is the associated data of an envelope: its header, then the caller's.
func (sl *sealer) ad(ad []byte) []byte {
	return append(append(make([]byte, 0, len(sl.header)+len(ad)), sl.header...), ad...)
}
