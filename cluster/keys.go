package cluster

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"

	"github.com/sessionmesh/sessionmesh/cluster/peer"
)

// minSecret is the shortest secret accepted: the gossip and peer keys are
// derived from it, so it must carry at least 128 bits.
const minSecret = 16

// MaxSecrets is the most secrets a node holds at once (Config.Secrets,
// Store.SetSecrets): a rotation needs two, and every gossip packet that
// does not open with the first is tried with the others.
const MaxSecrets = peer.MaxSecrets

// secrets is Secrets, or Secret as a list of one; nil without either.
func (c *Config) secrets() [][]byte {
	if len(c.Secrets) > 0 {
		return c.Secrets
	}
	if len(c.Secret) > 0 {
		return [][]byte{c.Secret}
	}
	return nil
}

// validateSecrets checks Secret and Secrets: not both, and the list's
// rules (checkSecrets).
func (c *Config) validateSecrets() []error {
	if len(c.Secret) > 0 && len(c.Secrets) > 0 {
		return []error{invalid("Secret", "and Secrets are both set; set one (Secret is the shorthand of Secrets with one secret)")}
	}
	if len(c.Secrets) > 0 {
		return checkSecrets("Secrets", c.Secrets)
	}
	if len(c.Secret) > 0 && len(c.Secret) < minSecret {
		return []error{invalid("Secret", fmt.Sprintf("must be at least %d bytes, got %d bytes", minSecret, len(c.Secret)))}
	}
	return nil
}

// checkSecrets reports every problem of a secret list, naming the entry:
// each at least minSecret bytes, none twice, at most MaxSecrets.
func checkSecrets(field string, list [][]byte) []error {
	var errs []error
	if len(list) > MaxSecrets {
		errs = append(errs, invalid(field, fmt.Sprintf("must hold at most %d secrets (a rotation needs two), got %d", MaxSecrets, len(list))))
	}
	for i, s := range list {
		name := fmt.Sprintf("%s[%d]", field, i)
		if len(s) < minSecret {
			errs = append(errs, invalid(name, fmt.Sprintf("must be at least %d bytes, got %d bytes", minSecret, len(s))))
		}
		for j := range i {
			if bytes.Equal(s, list[j]) {
				errs = append(errs, invalid(name, fmt.Sprintf("is the same secret as entry %d", j)))
				break
			}
		}
	}
	return errs
}

// deriveKey derives a purpose-bound 32-byte key from a cluster secret,
// so gossip and peer traffic never share a key.
func deriveKey(secret []byte, purpose string) []byte {
	if len(secret) == 0 {
		return nil
	}
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte("sessionmesh cluster " + purpose + " v1"))
	return mac.Sum(nil)
}

// deriveKeys derives the purpose's key of every secret, in order; nil
// without secrets.
func deriveKeys(secrets [][]byte, purpose string) [][]byte {
	if len(secrets) == 0 {
		return nil
	}
	keys := make([][]byte, len(secrets))
	for i, s := range secrets {
		keys[i] = deriveKey(s, purpose)
	}
	return keys
}

// SecretIDs returns a short ID of each secret (8 hex digits of a hash
// derived for no other purpose), for logs and operators comparing the
// secrets of workers: an ID does not reveal its secret.
func SecretIDs(secrets [][]byte) []string {
	ids := make([]string, len(secrets))
	for i, s := range secrets {
		ids[i] = hex.EncodeToString(deriveKey(s, "id")[:4])
	}
	return ids
}

// SetSecrets replaces the node's secrets while it serves (see "Key
// rotation" in the package doc): the first encrypts and authenticates what
// it sends from now on, every one is accepted. Gossip switches at once;
// peer connections dialled or accepted from now on use the new list, and
// those already established keep the key they agreed on until they close.
// The list follows Config.Secrets' rules; a node started without a secret
// (Insecure) cannot be given one, nor the other way round. Concurrent
// calls are serialized.
func (s *Store) SetSecrets(secrets [][]byte) error {
	if errs := checkSecrets("Secrets", secrets); len(errs) > 0 {
		return errs[0]
	}
	if (len(secrets) == 0) != (len(s.cfg.secrets()) == 0) {
		return invalid("Secrets", "cannot switch between secrets and none (Insecure) while running")
	}
	s.keysMu.Lock()
	defer s.keysMu.Unlock()
	if err := s.members.setKeys(deriveKeys(secrets, "gossip")); err != nil {
		return fmt.Errorf("cluster: set gossip keys: %w", err)
	}
	peerKeys := deriveKeys(secrets, "peer")
	if err := s.server.SetSecrets(peerKeys); err != nil {
		return fmt.Errorf("cluster: set peer keys: %w", err)
	}
	if err := s.client.SetSecrets(peerKeys); err != nil {
		return fmt.Errorf("cluster: set peer keys: %w", err)
	}
	kept := make([][]byte, len(secrets)) // snapshots seal and open with the current list
	for i, secret := range secrets {
		kept[i] = bytes.Clone(secret)
	}
	s.secrets.Store(&kept)
	s.log.Info("cluster: secrets changed", "ids", SecretIDs(secrets))
	return nil
}

// currentSecrets is the secret list this node runs with: Config's, or the
// last SetSecrets'.
func (s *Store) currentSecrets() [][]byte {
	if p := s.secrets.Load(); p != nil {
		return *p
	}
	return s.cfg.secrets()
}

// setKeys makes keys the gossip keyring, the first the primary: add the
// new keys, switch the primary, then remove the keys that are not in the
// list. Each step keeps every key of the list accepted.
//
// memberlist's RemoveKey shifts the keyring's slice in place, which a
// packet being decrypted at that moment may be reading (it could skip a
// key for that one packet, which gossip's retries absorb). UseKey just
// before it installs a fresh slice, which no decryption has seen yet.
func (m *membership) setKeys(keys [][]byte) error {
	if m.keyring == nil {
		return fmt.Errorf("gossip is not encrypted (no secret at start)")
	}
	for _, k := range keys {
		if err := m.keyring.AddKey(k); err != nil {
			return err
		}
	}
	if err := m.keyring.UseKey(keys[0]); err != nil {
		return err
	}
	for _, k := range slices.Clone(m.keyring.GetKeys()) {
		if slices.ContainsFunc(keys, func(want []byte) bool { return bytes.Equal(want, k) }) {
			continue
		}
		if err := m.keyring.UseKey(keys[0]); err != nil {
			return err
		}
		if err := m.keyring.RemoveKey(k); err != nil {
			return err
		}
	}
	return nil
}
