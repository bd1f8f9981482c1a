package peer

import (
	"bytes"
	"fmt"
	"sync/atomic"
)

// MaxSecrets is the most keys a Config may hold: a rotation needs two (the
// new and the old), and a server sends a proof for each in every
// handshake.
const MaxSecrets = 4

// secrets is the key list a Server or Client authenticates with. SetSecrets
// swaps it while the connections run: a handshake uses the list it loaded,
// and an established connection keeps the key its handshake agreed on.
type secrets struct {
	list atomic.Pointer[[][]byte]
}

func newSecrets(list [][]byte) *secrets {
	s := &secrets{}
	s.store(list)
	return s
}

func (s *secrets) store(list [][]byte) {
	copied := make([][]byte, len(list))
	for i, k := range list {
		copied[i] = bytes.Clone(k)
	}
	s.list.Store(&copied)
}

func (s *secrets) load() [][]byte { return *s.list.Load() }

// secretList is Secrets, or Secret as a list of one; nil without either.
func (c *Config) secretList() [][]byte {
	if len(c.Secrets) > 0 {
		return c.Secrets
	}
	if len(c.Secret) > 0 {
		return [][]byte{c.Secret}
	}
	return nil
}

// keys returns the key list a handshake uses now: the live list of the
// Server or Client that owns c, else c's own.
func (c *Config) keys() [][]byte {
	if c.live != nil {
		return c.live.load()
	}
	return c.secretList()
}

// checkSecrets checks a key list: at most MaxSecrets keys, each at least
// 16 bytes, none twice.
func checkSecrets(list [][]byte) error {
	if len(list) > MaxSecrets {
		return invalid("Secrets", fmt.Sprintf("must hold at most %d keys, got %d", MaxSecrets, len(list)))
	}
	for i, k := range list {
		if len(k) < minSecret {
			return invalid(fmt.Sprintf("Secrets[%d]", i), fmt.Sprintf("must be at least %d bytes, got %d", minSecret, len(k)))
		}
		for j := range i {
			if bytes.Equal(k, list[j]) {
				return invalid(fmt.Sprintf("Secrets[%d]", i), fmt.Sprintf("repeats Secrets[%d]", j))
			}
		}
	}
	return nil
}

// setSecrets validates list and makes it live. A side that has no keys
// cannot be given some, nor the other way round: the other nodes would
// refuse it (see agree).
func setSecrets(live *secrets, list [][]byte) error {
	if err := checkSecrets(list); err != nil {
		return err
	}
	if (len(list) == 0) != (len(live.load()) == 0) {
		return invalid("Secrets", "cannot switch between keys and none while running")
	}
	live.store(list)
	return nil
}

// SetSecrets replaces the Server's keys (Config.Secrets) while it serves:
// handshakes from now on accept a client that proves any of them.
// Established connections keep the key they agreed on until they close.
func (s *Server) SetSecrets(list [][]byte) error { return setSecrets(s.cfg.live, list) }

// SetSecrets replaces the Client's keys (Config.Secrets): connections
// dialled from now on use them. Established connections keep the key they
// agreed on until they close.
func (c *Client) SetSecrets(list [][]byte) error { return setSecrets(c.cfg.live, list) }
