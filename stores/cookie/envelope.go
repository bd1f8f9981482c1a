package cookie

import (
	"errors"
	"fmt"

	"github.com/sessionmesh/sessionmesh/session"
)

// Why a token did not open, besides aead's reasons (a malformed envelope,
// an unknown key, failed authentication, which includes another cookie
// name). Load turns them all into "not found"; Save wraps them in
// session.ErrNotFound.
var (
	errMalformed = errors.New("cookie: malformed token")
	errExpired   = errors.New("cookie: expired")
)

// seal encrypts rec with the first key and returns the token, refusing one
// that would make a cookie over MaxCookieBytes before doing the work.
func (s *Store) seal(rec *session.Record) (string, error) {
	plain := rec.AppendBinary(make([]byte, 0, rec.Size()))
	envLen := s.keys.Overhead() + len(plain)
	if n := len(s.cfg.CookieName) + 1 + encoding.EncodedLen(envLen); n > MaxCookieBytes {
		return "", fmt.Errorf("%w: %s=value would be %d bytes (session of %d bytes)", ErrCookieTooLarge, s.cfg.CookieName, n, len(plain))
	}
	env := s.keys.Seal(make([]byte, 0, envLen), plain, s.ad)
	return encoding.EncodeToString(env), nil
}

// open decodes, authenticates and decrypts token and checks its deadline.
func (s *Store) open(token string) (session.Record, error) {
	if len(token) > encoding.EncodedLen(MaxCookieBytes) {
		return session.Record{}, fmt.Errorf("%w: %d bytes", errMalformed, len(token))
	}
	if !base64URL(token) {
		return session.Record{}, fmt.Errorf("%w: not base64url", errMalformed)
	}
	env, err := encoding.DecodeString(token)
	if err != nil {
		return session.Record{}, fmt.Errorf("%w: %v", errMalformed, err)
	}
	plain, err := s.keys.Open(env, s.ad)
	if err != nil {
		return session.Record{}, fmt.Errorf("cookie: %w", err)
	}
	return s.decode(plain)
}

func (s *Store) decode(plain []byte) (session.Record, error) {
	var rec session.Record
	if err := rec.UnmarshalBinary(plain); err != nil {
		return session.Record{}, fmt.Errorf("%w: %v", errMalformed, err)
	}
	if !session.ValidID(rec.ID) {
		return session.Record{}, fmt.Errorf("%w: sealed session ID is malformed", errMalformed)
	}
	if rec.Expired(s.cfg.Now()) {
		return session.Record{}, errExpired
	}
	return rec, nil
}

// base64URL reports whether s holds only base64url characters. The base64
// decoder skips newlines, so without this check a token with a newline
// appended would open like the token itself.
func base64URL(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}
