package session

import (
	"crypto/rand"
	"encoding/base64"
)

// IDBytes is the number of random bytes in a session ID; IDLen is the length
// of its unpadded base64url form.
const (
	IDBytes = 32
	IDLen   = 43
)

// NewID returns a fresh session ID: 32 bytes from crypto/rand, base64url.
func NewID() string {
	var b [IDBytes]byte
	rand.Read(b[:]) // never returns an error; it crashes the program if the OS RNG fails
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// ValidID reports whether s has the exact shape of an ID made by NewID. Stores
// call it before any lookup, so a hostile cookie never reaches a server.
func ValidID(s string) bool {
	if len(s) != IDLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isBase64URL(s[i]) {
			return false
		}
	}
	// The last character carries 2 padding bits that must be zero; rejecting
	// the other spellings keeps one canonical token per ID.
	return base64URLValue(s[IDLen-1])&0x3 == 0
}

func isBase64URL(c byte) bool {
	return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_'
}

func base64URLValue(c byte) byte {
	switch {
	case c >= 'A' && c <= 'Z':
		return c - 'A'
	case c >= 'a' && c <= 'z':
		return c - 'a' + 26
	case c >= '0' && c <= '9':
		return c - '0' + 52
	case c == '-':
		return 62
	}
	return 63
}
