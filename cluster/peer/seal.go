package peer

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
)

// sealer seals or opens the frames of one direction of one connection with
// AES-256-GCM. The nonce is the frame's sequence number in that direction:
// never reused under one key (each connection and direction has its own
// key), and a receiver that expects frame n cannot be fed a replayed,
// reordered or dropped frame, since it would open under the wrong nonce. A
// sealer is used by one goroutine at a time (the reader, or writers under
// their mutex).
type sealer struct {
	aead  cipher.AEAD
	count uint64
	nonce [12]byte
}

func newSealer(key []byte) (*sealer, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &sealer{aead: aead}, nil
}

// overhead is what sealing adds to a frame; 0 for a nil sealer, so plain
// connections need no special case.
func (s *sealer) overhead() int {
	if s == nil {
		return 0
	}
	return s.aead.Overhead()
}

func (s *sealer) next() []byte {
	binary.BigEndian.PutUint64(s.nonce[4:], s.count)
	s.count++
	return s.nonce[:]
}

// seal appends the sealed plain to dst; dst and plain may be the same
// memory (plain[:0]) to seal in place.
func (s *sealer) seal(dst, plain []byte) []byte {
	return s.aead.Seal(dst, s.next(), plain, nil)
}

// open opens a sealed frame in place.
func (s *sealer) open(sealed []byte) ([]byte, error) {
	n := s.count
	plain, err := s.aead.Open(sealed[:0], s.next(), sealed, nil)
	if err != nil {
		return nil, fmt.Errorf("%w: frame %d does not open (tampered, replayed or reordered)", ErrAuth, n)
	}
	return plain, nil
}

// HKDF labels: one key per direction, so the two directions never share a
// (key, nonce) pair although both count from 0.
const (
	infoClientToServer = "sessionmesh peer v1 client to server"
	infoServerToClient = "sessionmesh peer v1 server to client"
)

// deriveSealers derives the keys of one connection from the secret and the
// two hellos (whose nonces make them unique per connection) and returns
// (send, receive) sealers for the client or the server side.
func deriveSealers(secret, clientHello, serverHello []byte, client bool) (send, recv *sealer, err error) {
	salt := append(append([]byte(nil), clientHello...), serverHello...)
	c2s, err := deriveSealer(secret, salt, infoClientToServer)
	if err != nil {
		return nil, nil, err
	}
	s2c, err := deriveSealer(secret, salt, infoServerToClient)
	if err != nil {
		return nil, nil, err
	}
	if client {
		return c2s, s2c, nil
	}
	return s2c, c2s, nil
}

func deriveSealer(secret, salt []byte, info string) (*sealer, error) {
	key, err := hkdf.Key(sha256.New, secret, salt, info, 32)
	if err != nil {
		return nil, fmt.Errorf("derive key %q: %w", info, err)
	}
	return newSealer(key)
}
