package session

import (
	"crypto/sha256"
	"encoding/hex"
	"time"
)

// Events (Config.OnEvent) tell an audit log what happened to a session and
// whose it was. The Manager reports what a request did (created, renewed,
// destroyed) once the store acknowledged it; a store that removes sessions
// itself reports what it removed (expired, evicted) through EventSource.
// No event carries a session ID, which is a bearer token: IDHash names the
// session instead.

// EventKind says what happened to a session.
type EventKind uint8

const (
	// EventCreated: a request saved a new session.
	EventCreated EventKind = iota + 1
	// EventRenewed: a request moved a session to a new ID (Renew).
	EventRenewed
	// EventDestroyed: a request deleted a session (Destroy).
	EventDestroyed
	// EventExpired: the store removed a session past its deadline.
	EventExpired
	// EventEvicted: the store removed a live session to stay within its
	// bounds (MaxSessions, MaxBytes).
	EventEvicted
)

var eventNames = [...]string{EventCreated: "created", EventRenewed: "renewed",
	EventDestroyed: "destroyed", EventExpired: "expired", EventEvicted: "evicted"}

// String returns created, renewed, destroyed, expired or evicted.
func (k EventKind) String() string {
	if k == 0 || int(k) >= len(eventNames) {
		return "unknown"
	}
	return eventNames[k]
}

// Event is what happened to one session, for an audit log.
type Event struct {
	Kind EventKind
	// Principal is the session's principal (SetPrincipal) as the event
	// left it (created, renewed) or found it (destroyed, expired,
	// evicted); "" for an anonymous session.
	Principal string
	// IDHash names the session without its ID (IDHash): the lines of one
	// session correlate, and a log reader cannot use them to take it over.
	// After Renew it is the new ID's hash, and PreviousIDHash the old's.
	IDHash         string
	PreviousIDHash string
	// At is when it happened: the Manager's clock at commit for created,
	// renewed and destroyed; the session's deadline for expired (the store
	// notices up to its sweep interval later); the store's clock for
	// evicted.
	At time.Time
}

// IDHash returns the first 16 hex digits of the SHA-256 of id: what
// events and logs use to tell sessions apart without the ID itself.
func IDHash(id string) string {
	sum := sha256.Sum256([]byte(id))
	return hex.EncodeToString(sum[:8])
}

// Removal is a session a store removed on its own, as an EventSource
// reports it.
type Removal struct {
	Kind EventKind // EventExpired or EventEvicted
	ID   string    // the session's ID
	// Data is the removed record in binary form (Record.AppendBinary; its
	// ID may be empty), from which the Manager reads the principal. It
	// belongs to the callee.
	Data []byte
	At   time.Time // as Event.At
}

// EventSource is an optional interface for stores that remove sessions
// themselves: the memory store's sweeper and bounds, the cluster's (on
// the session's primary only). A Manager with Config.OnEvent registers
// with it at NewManager, through any wrappers that have an
// Unwrap() Store method (metrics.InstrumentStore's), and turns each
// Removal into an Event. Stores
// that cannot see a session end (Redis and Memcache expire keys
// themselves; a cookie simply stops being sent) do not implement it.
type EventSource interface {
	// OnRemoval makes the store call fn once for each session it removes
	// because it expired or to respect a bound, after the removal, from
	// the goroutine that removed it (a request's, or the sweeper's): fn
	// must be fast and must not block. A later call replaces fn; nil
	// stops the calls.
	OnRemoval(fn func(Removal))
}

// wireEvents registers m with its store when it has an OnEvent hook and
// the store, or a store it wraps, reports removals. A wrapper (the
// metrics package's) says what it wraps with an Unwrap method.
func (m *Manager) wireEvents() {
	if src, ok := storeAs[EventSource](m.cfg.Store); ok && m.cfg.OnEvent != nil {
		src.OnRemoval(m.removed)
	}
}

// removed turns a store's Removal into an Event.
func (m *Manager) removed(r Removal) {
	e := Event{Kind: r.Kind, IDHash: IDHash(r.ID), At: r.At}
	var rec Record
	vals, err := rec.unmarshalValues(r.Data)
	if err == nil {
		if data, ok := vals.get(principalKey); ok {
			e.Principal, _, err = m.decodePrincipal(data)
		}
	}
	if err != nil {
		m.cfg.Logger.Warn("session: the principal of a removed session does not decode; its event has none",
			"event", r.Kind.String(), "idHash", e.IDHash, "err", err)
	}
	m.emit(e)
}

// committedEvent reports what Commit just saved (or, destroyed, deleted)
// for s, with s.mu held: a new session, a renew or a delete. A touch or a
// patch of an existing session is no event.
func (m *Manager) committedEvent(s *Session, destroyed bool, now time.Time) {
	if m.cfg.OnEvent == nil {
		return
	}
	switch {
	case destroyed:
		p, _, _ := s.storedPrincipalLocked()
		m.emit(Event{Kind: EventDestroyed, Principal: p, IDHash: IDHash(s.rec.ID), At: now})
	case !s.found:
		m.emit(Event{Kind: EventCreated, Principal: s.principalLocked(), IDHash: IDHash(s.id), At: now})
	case s.renew:
		m.emit(Event{Kind: EventRenewed, Principal: s.principalLocked(), IDHash: IDHash(s.id),
			PreviousIDHash: IDHash(s.rec.ID), At: now})
	}
}

// principalLocked is Principal with s.mu held, as this request leaves it;
// "" when it does not decode.
func (s *Session) principalLocked() string {
	data, ok := s.set[principalKey]
	if !ok {
		if _, gone := s.del[principalKey]; gone || s.clear {
			return ""
		}
		if data, ok = s.storedLocked(principalKey); !ok {
			return ""
		}
	}
	p, _, _ := s.m.decodePrincipal(data)
	return p
}

// emit calls the OnEvent hook, which must not take a request down: a
// panic in it is recovered and logged.
func (m *Manager) emit(e Event) {
	defer func() {
		if v := recover(); v != nil {
			m.cfg.Logger.Error("session: the OnEvent hook panicked; the event is lost, the request goes on",
				"event", e.Kind.String(), "idHash", e.IDHash, "panic", v)
		}
	}()
	m.cfg.OnEvent(e)
}
