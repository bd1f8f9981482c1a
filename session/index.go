package session

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"
)

// Every session of a user. A store that can find the sessions of a
// principal implements PrincipalIndex; Manager.Sessions lists them and
// Manager.DestroyPrincipal deletes them. The store learns a session's
// principal from the session itself: the value under the reserved
// principal key is plain "GEN:PRINCIPAL" (principal.go), which PrincipalOf,
// BinaryPrincipal and Patch.Principal read without the Manager's Codec.
// So a store indexes every copy it holds however the copy arrived (a
// request's patch, a cluster replica, a transfer, a snapshot), and nothing
// in the Store contract or in Patch changed for it.

// PrincipalIndex is an optional interface for stores that can find the
// sessions of a principal (the memory store, the cluster, Redis). The
// Manager finds it through wrappers with an Unwrap() Store method, as it
// finds EventSource.
type PrincipalIndex interface {
	// PrincipalSessions returns the sessions whose principal (PrincipalOf
	// their values) is principal, each as Load would return it. It may
	// return sessions that expired or changed principal since they were
	// indexed, and sessions whose generation was revoked: the Manager
	// checks each. It must not miss a live session of principal that was
	// saved before the call started. An error is a system failure, naming
	// what did not answer; nothing is returned with it.
	PrincipalSessions(ctx context.Context, principal string) ([]Record, error)
}

// Counter is an optional interface for stores that can count their
// sessions without reading them.
type Counter interface {
	// Count returns how many sessions the store holds. Sessions that
	// expired but were not removed yet may be counted.
	Count(ctx context.Context) (int, error)
}

// Iterator is an optional interface for stores that can walk their
// sessions (scs's Iterate): an administrator's view, an export, a
// migration, not a request's work.
type Iterator interface {
	// Iterate calls fn with each live session the store holds, in no
	// particular order, until fn returns false or every session was
	// seen. Sessions written during the walk may be seen as they were
	// or as they became; one created during it may be missed. An error
	// (ctx's, or the store's) ends the walk.
	Iterate(ctx context.Context, fn func(Record) bool) error
}

// SessionInfo describes one session of a principal (Manager.Sessions),
// without its ID, which is a bearer token.
type SessionInfo struct {
	// IDHash names the session: IDHash of its ID, as in events. It is
	// stable for the session's ID (it changes at Renew) and cannot be
	// turned back into the ID.
	IDHash string
	// Created is when the session was first saved.
	Created time.Time
	// LastSeen is the session's last write (Record.Touched). Reads slide
	// the stored idle deadline lazily, at most once per TouchInterval, so
	// a session in use was seen at LastSeen or up to a TouchInterval
	// later.
	LastSeen time.Time
	// Expires is when the session ends unless it is used again: the
	// earlier of its idle and absolute deadlines (Record.Deadline).
	Expires time.Time
}

// Sessions returns the live sessions of principal, oldest first. It needs
// a store that implements PrincipalIndex (memory, cluster, Redis); with
// another it fails with errors.ErrUnsupported: the cookie and Memcache
// stores cannot find a user's sessions, and RevokePrincipal (with
// Config.Revoker) is how to end them there. Sessions whose generation was
// revoked are not listed (they load as not found).
func (m *Manager) Sessions(ctx context.Context, principal string) ([]SessionInfo, error) {
	recs, err := m.principalSessions(ctx, principal)
	if err != nil {
		return nil, err
	}
	infos := make([]SessionInfo, len(recs))
	for i := range recs {
		r := &recs[i]
		infos[i] = SessionInfo{IDHash: IDHash(r.ID), Created: r.Created, LastSeen: r.Touched, Expires: r.Deadline()}
	}
	return infos, nil
}

// DestroyPrincipal ends every session of principal (a password change,
// "log out other devices", an admin's kill) and returns how many it
// deleted. With Config.Revoker it first revokes principal
// (RevokePrincipal), so that sessions the store cannot delete (copies of
// cookies) end too; then it deletes every live session of principal from
// the store, each with Store.Delete, and emits an EventDestroyed for each
// (Config.OnEvent). It counts and reports every live session it deleted,
// revoked earlier or not. Like Sessions it needs a PrincipalIndex; without
// one it fails with errors.ErrUnsupported before it revokes.
//
// The request that calls it, with the ctx the middleware gave it, may be
// one of the sessions: that session ends in this response as if Destroy
// had been called on it (its Commit expires the cookie, deletes nothing
// more and reports no second event; later changes fail with
// ErrDestroyed). Another request of a deleted session that is under way
// saves nothing at its Commit: the store refuses a patch of a deleted
// session, as after a concurrent Destroy.
//
// An error after some deletes leaves the rest in the store; calling it
// again deletes them.
func (m *Manager) DestroyPrincipal(ctx context.Context, principal string) (int, error) {
	idx, err := m.principalIndex(principal)
	if err != nil {
		return 0, err
	}
	if m.cfg.Revoker != nil {
		if err := m.RevokePrincipal(ctx, principal); err != nil {
			return 0, err
		}
	}
	recs, err := idx.PrincipalSessions(ctx, principal)
	if err != nil {
		return 0, fmt.Errorf("session: destroy principal: %w", err)
	}
	n := 0
	for i := range recs {
		r := &recs[i]
		p, _, ok := m.recordPrincipal(r)
		if !ok || p != principal {
			continue
		}
		if err := m.cfg.Store.Delete(ctx, r.ID); err != nil {
			return n, fmt.Errorf("session: destroy principal: %d of %d sessions deleted: %w", n, len(recs), err)
		}
		if r.Expired(m.cfg.Now()) {
			continue
		}
		n++
		m.endIfCurrent(ctx, r.ID)
		if m.cfg.OnEvent != nil {
			m.emit(Event{Kind: EventDestroyed, Principal: principal, IDHash: IDHash(r.ID), At: m.cfg.Now()})
		}
	}
	return n, nil
}

// endIfCurrent ends the session of m that ctx carries, when it is the
// stored session id that DestroyPrincipal just deleted: Commit then
// expires its cookie (destroyLocked) without deleting it again or
// reporting it twice, whether or not the handler called Destroy too.
func (m *Manager) endIfCurrent(ctx context.Context, id string) {
	s := m.FromContext(ctx)
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.loaded && s.found && !s.committed && s.rec.ID == id {
		s.destroy, s.found = true, false
		s.set, s.del, s.clear, s.renew = nil, nil, false, false
	}
}

// principalSessions returns the live, current sessions of principal from
// the store's index, oldest first.
func (m *Manager) principalSessions(ctx context.Context, principal string) ([]Record, error) {
	idx, err := m.principalIndex(principal)
	if err != nil {
		return nil, err
	}
	recs, err := idx.PrincipalSessions(ctx, principal)
	if err != nil {
		return nil, fmt.Errorf("session: sessions of a principal: %w", err)
	}
	// One lookup of the current generation for all: a listing is not a
	// request of these sessions, so the Revoker is asked, not the cache.
	current, err := m.freshGeneration(ctx, principal)
	if err != nil {
		return nil, fmt.Errorf("session: sessions of a principal: revoker: %w", err)
	}
	now, live := m.cfg.Now(), recs[:0]
	for _, r := range recs {
		p, gen, ok := m.recordPrincipal(&r)
		if !ok || p != principal || r.Expired(now) || m.cfg.Revoker != nil && gen != current {
			continue
		}
		live = append(live, r)
	}
	slices.SortFunc(live, func(a, b Record) int { return a.Created.Compare(b.Created) })
	return live, nil
}

// principalIndex checks principal and returns the store's PrincipalIndex.
func (m *Manager) principalIndex(principal string) (PrincipalIndex, error) {
	if principal == "" || len(principal) > MaxPrincipalLen {
		return nil, fmt.Errorf("%w: %d bytes (want 1 to %d)", ErrInvalidPrincipal, len(principal), MaxPrincipalLen)
	}
	idx, ok := storeAs[PrincipalIndex](m.cfg.Store)
	if !ok {
		return nil, fmt.Errorf("session: the store (%T) cannot find the sessions of a principal; "+
			"Manager.RevokePrincipal with Config.Revoker ends them at their next request instead: %w",
			m.cfg.Store, errors.ErrUnsupported)
	}
	return idx, nil
}

// recordPrincipal is the principal and generation r records; ok is false
// when it has none or it does not decode.
func (m *Manager) recordPrincipal(r *Record) (string, uint64, bool) {
	data, ok := r.Values[principalKey]
	if !ok {
		return "", 0, false
	}
	p, gen, err := m.decodePrincipal(data)
	return p, gen, err == nil
}

// storeAs returns st, or the first store it wraps (through Unwrap() Store
// methods, as metrics.InstrumentStore's), that is a T.
func storeAs[T any](st Store) (T, bool) {
	for st != nil {
		if t, ok := st.(T); ok {
			return t, true
		}
		w, ok := st.(interface{ Unwrap() Store })
		if !ok {
			break
		}
		st = w.Unwrap()
	}
	var zero T
	return zero, false
}

// PrincipalOf returns the principal recorded in vals (a Record's Values),
// "" when there is none or it is not in the plain form stores index.
func PrincipalOf(vals map[string][]byte) string {
	p, _, _ := parsePrincipal(string(vals[principalKey]))
	return p
}

// BinaryPrincipal returns the principal of the record data, in binary form
// (Record.AppendBinary): the bytes of data that hold it, nil when it has
// none, it is not in plain form, or data does not decode. It allocates
// nothing, so a store can call it on every write.
func BinaryPrincipal(data []byte) []byte {
	// Skip the header (appendHeader) without decoding it: every write of
	// the memory store and the cluster reads two records' principals.
	d := decoder{b: data}
	if d.byte() != recordFormat {
		return nil
	}
	d.span()
	for range 5 { // the four times (zig-zag varints) and the version
		d.skipVarint()
	}
	n := d.uvarint()
	for i := uint64(0); i < n && d.err == nil; i++ {
		k0, k1 := d.span()
		v0, v1 := d.span()
		switch c := bytes.Compare(d.b[k0:k1], []byte(principalKey)); {
		case d.err != nil || c > 0: // keys are in order: it is not there
			return nil
		case c == 0:
			return plainPrincipal(d.b[v0:v1])
		}
	}
	return nil
}

// plainPrincipal is the PRINCIPAL part of v, "GEN:PRINCIPAL"; nil when v
// is not of that form.
func plainPrincipal(v []byte) []byte {
	i := bytes.IndexByte(v, ':')
	if i <= 0 {
		return nil
	}
	for _, c := range v[:i] {
		if c < '0' || c > '9' {
			return nil
		}
	}
	return v[i+1:]
}

// Principal reports what p does to the session's principal: changed is
// true when p sets, deletes or clears it, and principal is then the one
// the session has once p is applied ("" for none). A store that indexes
// by principal updates its index only when changed is true.
func (p *Patch) Principal() (principal string, changed bool) {
	if v, ok := p.Set[principalKey]; ok {
		return string(plainPrincipal(v)), true
	}
	if p.Clear {
		return "", true
	}
	for _, k := range p.Delete {
		if k == principalKey {
			return "", true
		}
	}
	return "", false
}

// PrincipalValue returns the reserved key and the value under which a
// session records principal at generation gen, as SetPrincipal stores
// them: for tests of stores (stores/storetest) that give a session a
// principal without a Manager.
func PrincipalValue(principal string, gen uint64) (key string, value []byte) {
	return principalKey, []byte(strconv.FormatUint(gen, 10) + ":" + principal)
}

// skipVarint moves past one varint without decoding it: it ends at its
// first byte below 0x80.
func (d *decoder) skipVarint() {
	for d.off < len(d.b) && d.b[d.off] >= 0x80 {
		d.off++
	}
	if d.off++; d.off > len(d.b) {
		d.fail()
	}
}
