package cluster

import (
	"bytes"
	"cmp"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/sessionmesh/sessionmesh/session"
)

// Snapshots (Config.Snapshot; when they are written and loaded, and why
// an old one brings no deleted session back: "Snapshots" in the package
// doc). A file is a header line, then, sealed with AES-256-GCM under a
// key derived from the first cluster secret (any secret of the list opens
// it, as during a rotation) or in the clear without a secret (Insecure),
// a count and the records as a transfer batch encodes them, tombstones
// included.

// snapshotSealed and snapshotPlain start a snapshot file: sealed (nonce
// and ciphertext follow) or, for a node without a secret, in the clear.
const (
	snapshotSealed = "sessionmesh snapshot sealed v1\n"
	snapshotPlain  = "sessionmesh snapshot plain v1\n"
)

// writeSnapshot writes what this node holds to Config.Snapshot, or
// removes the file when it holds nothing. It is called at the end of a
// drain, when no copy is accepted any more.
func (s *Store) writeSnapshot() error {
	path := s.cfg.Snapshot
	if path == "" {
		return nil
	}
	header, aead, err := s.snapshotSeal()
	if err != nil {
		return err
	}
	// One buffer: the header, the nonce and room for the count, then the
	// records, sealed in place, so a node near its memory bound does not
	// need three copies of its sessions to stop.
	nonceSize := 0
	if aead != nil {
		nonceSize = aead.NonceSize()
	}
	prefix := len(header) + nonceSize
	buf := make([]byte, prefix+binary.MaxVarintLen64)
	n := 0
	s.engine.Range(func(_ string, rec session.Record) bool {
		buf = appendRecord(buf, &rec)
		n++
		return true
	})
	s.snapMu.Lock()
	defer s.snapMu.Unlock()
	s.snapLoaded = false // whatever happens below, the file is no longer the one loaded
	if n == 0 {
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("cluster: remove the old snapshot %s: %w", path, err)
		}
		return nil
	}
	count := binary.AppendUvarint(nil, uint64(n))
	start := prefix + binary.MaxVarintLen64 - len(count)
	copy(buf[start:], count)
	head := buf[start-prefix : start]
	copy(head, header)
	body := buf[start:]
	if aead != nil {
		nonce := head[len(header):]
		if _, err := rand.Read(nonce); err != nil {
			return fmt.Errorf("cluster: snapshot nonce: %w", err)
		}
		body = aead.Seal(body[:0], nonce, body, []byte(header))
	}
	if err := writeFileAtomic(path, append(head, body...)); err != nil {
		return fmt.Errorf("cluster: write snapshot: %w", err)
	}
	s.log.Info("cluster: wrote a snapshot of the sessions no other node took", "path", path, "sessions", n)
	return nil
}

// snapshotSeal returns the header of the snapshot this node writes and
// the AEAD that seals it: the first secret's, or nil without a secret.
func (s *Store) snapshotSeal() (string, cipher.AEAD, error) {
	secrets := s.currentSecrets()
	if len(secrets) == 0 {
		return snapshotPlain, nil, nil
	}
	aead, err := snapshotAEAD(secrets[0])
	return snapshotSealed, aead, err
}

func snapshotAEAD(secret []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(deriveKey(secret, "snapshot"))
	if err != nil {
		return nil, fmt.Errorf("cluster: snapshot key: %w", err)
	}
	return cipher.NewGCM(block)
}

// openSnapshot returns the records of a snapshot file's contents. A
// node with secrets opens sealed files only (a file in the clear could
// have been planted by anyone who can write the directory); one without
// opens files in the clear only.
func (s *Store) openSnapshot(data []byte) ([]session.Record, error) {
	secrets := s.currentSecrets()
	switch {
	case bytes.HasPrefix(data, []byte(snapshotPlain)) && len(secrets) == 0:
		return parseRecords(data[len(snapshotPlain):])
	case bytes.HasPrefix(data, []byte(snapshotPlain)):
		return nil, errors.New("it is not sealed, and this node has a cluster secret: it only loads snapshots sealed with one")
	case !bytes.HasPrefix(data, []byte(snapshotSealed)):
		return nil, errors.New("it is not a sessionmesh snapshot")
	case len(secrets) == 0:
		return nil, errors.New("it is sealed, and this node has no cluster secret to open it")
	}
	sealed := data[len(snapshotSealed):]
	for _, secret := range secrets {
		aead, err := snapshotAEAD(secret)
		if err != nil {
			return nil, err
		}
		if len(sealed) < aead.NonceSize() {
			return nil, errors.New("it is truncated")
		}
		plain, err := aead.Open(nil, sealed[:aead.NonceSize()], sealed[aead.NonceSize():], []byte(snapshotSealed))
		if err == nil {
			return parseRecords(plain)
		}
	}
	return nil, errors.New("none of this node's cluster secrets opens it (it was sealed with another secret, or it is damaged)")
}

// loadSnapshot merges the records of Config.Snapshot, if the file exists,
// into this node's engine: before the node listens, so that the first
// pull from it already finds them. The file is removed once its sessions
// have reached their owners (pushRestored): until then it may be the
// only other copy of some of them.
func (s *Store) loadSnapshot() error {
	path := s.cfg.Snapshot
	if path == "" {
		return nil
	}
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("cluster: read snapshot: %w", err)
	}
	recs, err := s.openSnapshot(data)
	if err != nil {
		return fmt.Errorf("cluster: snapshot %s does not load: %v; move it away to start without it", path, err)
	}
	loaded, refused := 0, 0
	var firstErr error
	for i := range recs {
		ok, err := s.merge(&recs[i])
		switch {
		case err != nil:
			refused++
			firstErr = cmp.Or(firstErr, err)
		case ok:
			loaded++
			s.restored = append(s.restored, recs[i])
		}
	}
	s.snapLoaded = true
	s.log.Info("cluster: loaded a snapshot", "path", path, "sessions", loaded, "dropped_expired", len(recs)-loaded-refused)
	if refused > 0 {
		// Beyond the node's bounds (a quarter over MaxBytes or
		// MaxSessions) or larger than its MaxRecordSize: those sessions
		// are lost, as copies beyond the bounds are at any time.
		s.log.Warn("cluster: sessions of the snapshot not loaded", "path", path, "sessions", refused, "first_err", firstErr)
	}
	return nil
}

// pushRestored sends the sessions loaded from the snapshot to the other
// owners of their partitions in the table this node is joining, once,
// before it reports ready: an owner that is already serving (it was
// ready before this node came) would otherwise answer, as the authority,
// that such a session does not exist until anti-entropy repaired it.
// Once every copy got through, the file goes (removeLoadedSnapshot); a
// copy that did not is logged and anti-entropy repairs it, and the file
// stays, so that a crash of this node before the repair loses nothing:
// a later start loads it again (harmless: the version rule), and this
// node's next drain replaces or removes it.
func (s *Store) pushRestored(ctx context.Context) {
	recs := s.restored
	if len(recs) == 0 {
		s.removeLoadedSnapshot()
		return
	}
	s.restored = nil
	t := s.Table().Target()
	byDest, dests := map[string][]session.Record{}, map[string]Member{}
	pending := make(map[string]int, len(recs))
	for _, rec := range recs {
		for _, m := range splitSelf(t.Owners(t.Partition(rec.ID)), s.name) {
			byDest[m.Name] = append(byDest[m.Name], rec)
			dests[m.Name] = m
			pending[rec.ID]++
		}
	}
	if err := errors.Join(s.pushAll(ctx, dests, byDest, pending)...); err != nil {
		s.log.Warn("cluster: sessions from the snapshot did not all reach their owners; anti-entropy repairs them, and the snapshot file stays until then", "path", s.cfg.Snapshot, "err", err)
		return
	}
	s.removeLoadedSnapshot()
}

// removeLoadedSnapshot removes Config.Snapshot if it is still the file
// this node loaded when it started, so that it is loaded once; a drain
// that wrote a new one meanwhile (writeSnapshot) keeps that one.
func (s *Store) removeLoadedSnapshot() {
	s.snapMu.Lock()
	defer s.snapMu.Unlock()
	if !s.snapLoaded {
		return
	}
	s.snapLoaded = false
	if err := os.Remove(s.cfg.Snapshot); err != nil && !errors.Is(err, fs.ErrNotExist) {
		s.log.Warn("cluster: the loaded snapshot could not be removed; a later start loads it again", "path", s.cfg.Snapshot, "err", err)
	}
}

// writeFileAtomic writes data to path with mode 0600: to a temporary
// file in the same directory, synced, then renamed over path, and the
// directory synced, so a crash leaves the old file or the new one.
func writeFileAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // after a failure; a no-op after the rename
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
