package session

// A session's own timeouts ("remember me"): a request, typically the one
// that logs a user in, gives its session a longer (or shorter) idle
// timeout and absolute lifetime than the Manager's, or a cookie that the
// browser drops when it closes. They are kept in the session under a
// reserved key, like flashes (flash.go), so every store keeps them with
// no change of format, Renew and Clear keep them, and every later request
// of the session slides it with its own idle timeout. Only the absolute
// deadline needs the store: the request that sets the timeouts moves it
// with Patch.Expires.

import (
	"encoding/json"
	"errors"
	"time"
)

// Timeouts are the expiry of one session (Session.SetTimeouts) or of the
// sessions that Session.RememberMe extends (Config.RememberMe). A zero
// Idle or Lifetime is the Manager's (Config.IdleTimeout, Config.Lifetime).
//
// The session ends at the earlier of its idle and absolute deadlines, so
// a Lifetime shorter than Idle is allowed: the session then ends at its
// Lifetime however active it is.
type Timeouts struct {
	// Idle ends the session after this long without a write. The session
	// slides with it on every later request, its TouchInterval is the same
	// fraction of it that Config.TouchInterval is of Config.IdleTimeout,
	// and its cookie's Max-Age follows it.
	Idle time.Duration `json:"idle,omitempty"`

	// Lifetime ends the session this long after it was created (like
	// Config.Lifetime, counted from creation, not from the request that
	// sets it; Renew keeps the creation time). A Lifetime shorter than
	// the session's age ends it with this request's save.
	Lifetime time.Duration `json:"lifetime,omitempty"`

	// SessionCookie sends the cookie without Max-Age: the browser drops
	// it when it closes, while the server still ends the session at its
	// deadlines. A session with its own Timeouts decides this for itself:
	// false gives a cookie with Max-Age even under
	// Config.Cookie.SessionOnly (remember me in an app whose cookies are
	// browser-session ones by default).
	SessionCookie bool `json:"sessionCookie,omitempty"`
}

// DefaultRememberMe is what Session.RememberMe applies when
// Config.RememberMe is left zero: 30 days of idle timeout, the Manager's
// Lifetime.
var DefaultRememberMe = Timeouts{Idle: 30 * 24 * time.Hour}

// Validate reports every field of t that is out of range: the errors are
// joined *FieldErrors naming the field ("Timeouts.Idle"), each wrapping
// ErrInvalidConfig.
func (t Timeouts) Validate() error {
	return errors.Join(t.problems("Timeouts.")...)
}

// problems lists t's fields out of range, their names after prefix.
func (t Timeouts) problems(prefix string) []error {
	var errs []error
	if t.Idle < 0 {
		errs = append(errs, &FieldError{Field: prefix + "Idle", Rule: "must be positive, or 0 for the Manager's IdleTimeout"})
	}
	if t.Lifetime < 0 {
		errs = append(errs, &FieldError{Field: prefix + "Lifetime", Rule: "must be positive, or 0 for the Manager's Lifetime"})
	}
	return errs
}

// timeoutsKey is the stored key of a session's own Timeouts, in the space
// reserved beside the flashes' (reservedPrefix), as JSON.
const timeoutsKey = reservedPrefix + "timeouts"

// SetTimeouts gives the session its own timeouts from this request on,
// typically at login, beside Renew. Timeouts{} returns it to the
// Manager's, except that an absolute deadline it was given stays when the
// Manager has no Lifetime. The response sends the cookie again with the
// new Max-Age (or none, with SessionCookie).
func (s *Session) SetTimeouts(t Timeouts) error {
	if s == nil {
		return ErrNoSession
	}
	if err := t.Validate(); err != nil {
		return err
	}
	data, _ := json.Marshal(t) // numbers and a bool: it cannot fail
	return s.change(func() {
		s.timeouts = &t
		if t == (Timeouts{}) {
			s.deleteLocked(timeoutsKey)
			return
		}
		if s.set == nil {
			s.set = make(map[string][]byte)
		}
		s.set[timeoutsKey] = data
		delete(s.del, timeoutsKey)
	})
}

// RememberMe is SetTimeouts(Config.RememberMe): the "remember me" box of
// a login form.
func (s *Session) RememberMe() error {
	if s == nil {
		return ErrNoSession
	}
	return s.SetTimeouts(s.m.cfg.RememberMe)
}

// Timeouts returns the session's timeouts: its own, with the Manager's
// in place of zero fields, or the Manager's.
func (s *Session) Timeouts() (Timeouts, error) {
	if s == nil {
		return Timeouts{}, ErrNoSession
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.loadLocked(); err != nil {
		return Timeouts{}, err
	}
	t, own := s.m.timeoutsLocked(s)
	if !own {
		t.SessionCookie = s.m.cfg.Cookie.SessionOnly
	}
	return t, nil
}

// keepTimeoutsLocked returns s.set after Clear: empty but for the
// session's own timeouts, which Clear keeps (they belong to the session,
// not to its values).
func (s *Session) keepTimeoutsLocked() map[string][]byte {
	data, ok := s.set[timeoutsKey]
	if _, gone := s.del[timeoutsKey]; !ok && !gone && !s.clear {
		data, ok = s.storedLocked(timeoutsKey)
	}
	if !ok {
		return nil
	}
	return map[string][]byte{timeoutsKey: data}
}

// timeoutsLocked returns the timeouts s lives by: its own (set in this
// request, or stored) with zero fields filled in from the Config, or the
// Config's; own reports whether it has its own (and so decides its
// cookie's Max-Age with SessionCookie).
func (m *Manager) timeoutsLocked(s *Session) (t Timeouts, own bool) {
	switch {
	case s.timeouts != nil:
		t = *s.timeouts
	case s.found:
		t = m.storedTimeoutsLocked(s)
	}
	own = t != Timeouts{}
	if t.Idle == 0 {
		t.Idle = m.cfg.IdleTimeout
	}
	if t.Lifetime == 0 {
		t.Lifetime = m.cfg.Lifetime
	}
	return t, own
}

// storedTimeoutsLocked returns the Timeouts stored in s, zero when none
// are, or when they do not decode (which is logged: the Manager's apply).
func (m *Manager) storedTimeoutsLocked(s *Session) Timeouts {
	data, ok := s.storedLocked(timeoutsKey)
	if !ok {
		return Timeouts{}
	}
	t, err := decodeTimeouts(data)
	if err != nil {
		m.cfg.Logger.Warn("session: its stored timeouts do not decode; the Manager's apply", "err", err)
		return Timeouts{}
	}
	return t
}

// decodeTimeouts decodes stored Timeouts. (Apart from
// storedTimeoutsLocked, so that a session without its own timeouts does
// not pay for the Timeouts that json.Unmarshal moves to the heap.)
func decodeTimeouts(data []byte) (Timeouts, error) {
	var t Timeouts
	if err := json.Unmarshal(data, &t); err != nil {
		return Timeouts{}, err
	}
	return t, t.Validate()
}

// touchInterval is the TouchInterval of a session whose idle timeout is
// idle: Config.TouchInterval's share of Config.IdleTimeout, at least 1ns.
func (m *Manager) touchInterval(idle time.Duration) time.Duration {
	if idle == m.cfg.IdleTimeout {
		return m.cfg.TouchInterval
	}
	share := float64(m.cfg.TouchInterval) / float64(m.cfg.IdleTimeout)
	return max(1, time.Duration(share*float64(idle)))
}
