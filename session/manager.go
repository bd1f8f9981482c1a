package session

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// maxTokenLen bounds the token the Manager hands to a store: browsers keep
// cookies up to 4096 bytes, so anything longer is not ours.
const maxTokenLen = 4096

// Manager creates Sessions and saves them. It is safe for concurrent use.
type Manager struct {
	cfg          Config
	attrs        cookieAttrs
	alwaysSecure bool          // every cookie carries Secure (CookieConfig.alwaysSecure)
	newID        func() string // the store's IDGenerator, or NewID
	gens         *genCache     // Config.RevokerCache; nil: none
	late         atomic.Uint64 // changes made after commit
}

// NewManager validates cfg, fills in defaults and returns a Manager.
func NewManager(cfg Config) (*Manager, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.setDefaults()
	m := &Manager{cfg: cfg, newID: NewID}
	if g, ok := cfg.Store.(IDGenerator); ok {
		m.newID = g.NewID
	}
	m.attrs = newCookieAttrs(&m.cfg.Cookie)
	m.alwaysSecure = m.cfg.Cookie.alwaysSecure(m.cfg.CookieName)
	m.gens = newGenCache(m.cfg.RevokerCache)
	m.wireEvents()
	return m, nil
}

// Config returns the Manager's configuration with defaults filled in.
func (m *Manager) Config() Config { return m.cfg }

// LateChanges counts changes made after their session was committed: each is
// a bug in a handler (it changed the session after the response started).
func (m *Manager) LateChanges() uint64 { return m.late.Load() }

// Start returns the Session for the tokens the request presented: the
// values of its session cookies in the order it sent them (none, or "",
// for a visitor without one). It does no I/O: the store is read on first
// use, with ctx.
//
// A browser sends several cookies of one name when they were set for
// different domains or paths, and a sibling subdomain can add its own (cookie
// tossing). The session is then the first token that loads, and when none
// does, the new session's cookie expires nothing: the stale cookie is
// expired only when it was the only one, since a Max-Age=0 for the name
// could delete the user's real cookie along with the attacker's. Each token
// tried costs a store lookup, so at most maxTokens are: the first, then
// the next distinct well-formed IDs (ValidID; junk would cost a store
// nothing but is not worth trying). A request cannot make a store look up
// thousands of IDs, whatever its headers' size.
func (m *Manager) Start(ctx context.Context, tokens ...string) *Session {
	s := &Session{m: m, ctx: ctx}
	if err := m.sharedCookie(ctx); err != nil {
		s.loaded, s.err = true, err
		return s
	}
	for _, t := range tokens {
		switch {
		case t == "" || len(t) > maxTokenLen:
			// not ours: never looked up, never expired
		case s.token == "":
			s.token = t
		default:
			s.several = true
			if len(s.rest) < maxTokens-1 && t != s.token && ValidID(t) && !slices.Contains(s.rest, t) {
				s.rest = append(s.rest, t)
			}
		}
	}
	return s
}

// maxTokens bounds the tokens of one request that Start tries.
const maxTokens = 8

// sharedCookie returns an error when ctx carries the session of another
// Manager with m's cookie name: both would read the one cookie and each
// overwrite the other's, so every use of the session fails instead.
func (m *Manager) sharedCookie(ctx context.Context) error {
	for c := sessions(ctx); c != nil; c = c.outer {
		if o := c.s; o != nil && o.m != m && o.m.cfg.CookieName == m.cfg.CookieName {
			return fmt.Errorf("%w: two Managers in one request use the cookie name %q; give each its own CookieName", ErrInvalidConfig, m.cfg.CookieName)
		}
	}
	return nil
}

// CookieAction says what the response must do with the session cookie.
type CookieAction int

const (
	CookieKeep   CookieAction = iota // send nothing
	CookieSet                        // send Token with MaxAge
	CookieExpire                     // delete the cookie
)

// Outcome is the result of Commit.
type Outcome struct {
	Action CookieAction
	Token  string        // with CookieSet
	MaxAge time.Duration // with CookieSet: until the session's deadline
	// Life, with CookieSet, says whether the cookie gets a Max-Age: Commit
	// sets it for a session with its own Timeouts (SessionCookie); the zero
	// value follows Config.Cookie.SessionOnly.
	Life CookieLife
}

// CookieLife says whether a session cookie outlives the browser session.
type CookieLife int8

const (
	CookieLifeConfig  CookieLife = iota // as Config.Cookie.SessionOnly says
	CookieLifeBrowser                   // no Max-Age: dropped when the browser closes
	CookieLifeMaxAge                    // Max-Age, even under Config.Cookie.SessionOnly
)

// sessionOnly reports whether the cookie of o goes without Max-Age.
func (m *Manager) sessionOnly(o *Outcome) bool {
	if o.Life == CookieLifeConfig {
		return m.cfg.Cookie.SessionOnly
	}
	return o.Life == CookieLifeBrowser
}

// Commit saves s: its patch, a touch when the idle deadline must slide, or a
// delete after Destroy. It runs at most once per Session; later changes fail
// with ErrCommitted. An error means nothing was saved and the response should
// say so (the middleware answers 503). Past the deadline of the ctx given to
// Start, Commit writes nothing and fails with context.DeadlineExceeded
// (CheckDeadline): the client may have retried elsewhere by then, and this
// request's late write would overwrite the retry's.
func (m *Manager) Commit(s *Session) (Outcome, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.committed {
		return Outcome{}, nil
	}
	s.committed = true
	switch {
	case !s.loaded:
		return Outcome{}, nil // never touched: no I/O at all
	case s.err != nil:
		return Outcome{}, s.err
	case s.destroy:
		return m.destroyLocked(s)
	case !s.found && !s.changedLocked():
		return m.forgetLocked(s), nil
	}
	now := m.cfg.Now()
	t, own := m.timeoutsLocked(s)
	if !s.changedLocked() && now.Sub(s.rec.Touched) < m.touchInterval(t.Idle) {
		return Outcome{}, nil
	}
	return m.saveLocked(s, now, t, own)
}

// saveLocked saves s at now with its timeouts t, its own ones when own
// (Manager.timeoutsLocked).
func (m *Manager) saveLocked(s *Session, now time.Time, t Timeouts, own bool) (Outcome, error) {
	p := Patch{Clear: s.clear, Set: s.set, Now: now, Idle: t.Idle, Lifetime: t.Lifetime}
	if s.timeouts != nil && s.found && t.Lifetime > 0 {
		p.Expires = s.rec.Created.Add(t.Lifetime) // SetTimeouts: a new lifetime
	}
	for k := range s.del {
		p.Delete = append(p.Delete, k)
	}
	token := s.token
	if !s.found {
		token, p.NewID = "", s.id
	} else if s.renew {
		p.NewID = s.id
	}
	if err := CheckDeadline(s.ctx); err != nil {
		return Outcome{}, fmt.Errorf("session: save: %w", err)
	}
	newToken, err := m.cfg.Store.Save(s.ctx, token, p)
	if errors.Is(err, ErrNotFound) {
		// Destroyed or renewed by a concurrent request: that request wins.
		m.cfg.Logger.Warn("session: ended by a concurrent request; this request's changes are dropped",
			"keys", len(p.Set)+len(p.Delete))
		return Outcome{}, nil
	}
	if err != nil {
		return Outcome{}, fmt.Errorf("session: save: %w", err)
	}
	m.committedEvent(s, false, now)
	if newToken == s.token && s.timeouts == nil && !m.cookieDue(&s.rec, now, m.touchInterval(t.Idle)) {
		return Outcome{}, nil
	}
	o := Outcome{Action: CookieSet, Token: newToken, MaxAge: deadline(&s.rec, &p).Sub(now)}
	if own {
		o.Life = CookieLifeMaxAge
		if t.SessionCookie {
			o.Life = CookieLifeBrowser
		}
	}
	return o, nil
}

// cookieDue reports whether a write at now to the session rec, whose token
// stays the same, must send the cookie again to slide its Max-Age. Like the
// stored deadline (see Commit), the cookie slides lazily: time since the
// session was created is cut into TouchIntervals, and the first write in
// each sends the cookie. A write in the same interval as the session's
// previous write does not: the cookie sent at that interval's first write
// ends less than TouchInterval (ti, the session's) before the deadline this
// write sets, the slack a read-only request's touch has too.
func (m *Manager) cookieDue(rec *Record, now time.Time, ti time.Duration) bool {
	return now.Sub(rec.Created)/ti != rec.Touched.Sub(rec.Created)/ti
}

// deadline is the deadline of rec once p is applied: what Patch.Apply
// sets, on a copy of the header only.
func deadline(rec *Record, p *Patch) time.Time {
	saved := Record{Created: rec.Created, Expires: rec.Expires}
	p.applyHeader(&saved)
	return saved.Deadline()
}

func (m *Manager) destroyLocked(s *Session) (Outcome, error) {
	if s.token == "" {
		return Outcome{}, nil
	}
	if s.found {
		if err := CheckDeadline(s.ctx); err != nil {
			return Outcome{}, fmt.Errorf("session: destroy: %w", err)
		}
		if err := m.revokeOnDestroyLocked(s); err != nil {
			return Outcome{}, fmt.Errorf("session: destroy: %w", err)
		}
		if err := m.cfg.Store.Delete(s.ctx, s.token); err != nil {
			return Outcome{}, fmt.Errorf("session: destroy: %w", err)
		}
		m.committedEvent(s, true, m.cfg.Now())
	}
	return Outcome{Action: CookieExpire}, nil
}

// forgetLocked handles a session that was read but not found and not
// changed: nothing is created (anonymous visitors cost no storage), and a
// stale cookie is expired so the browser stops sending it, unless the
// request sent several: see Start.
func (m *Manager) forgetLocked(s *Session) Outcome {
	if s.token != "" && !s.several {
		return Outcome{Action: CookieExpire}
	}
	return Outcome{}
}

func (m *Manager) lateChange(s *Session) {
	m.late.Add(1)
	m.cfg.Logger.Error("session: changed after the response started; the change is NOT saved (set session values before writing the response)",
		"cookie", m.cfg.CookieName)
}

// Cookie builds the Set-Cookie for o in the response to r, which decides
// Secure under SecureAuto (see SecureAuto); r may be nil, which counts as
// a request that is not to loopback.
func (m *Manager) Cookie(o Outcome, r *http.Request) *http.Cookie {
	c := &http.Cookie{
		Name:        m.cfg.CookieName,
		Value:       o.Token,
		Path:        m.cfg.Cookie.Path,
		Domain:      m.cfg.Cookie.Domain,
		Secure:      m.secure(r),
		HttpOnly:    true,
		SameSite:    m.cfg.Cookie.SameSite,
		Partitioned: m.cfg.Cookie.Partitioned,
	}
	switch {
	case o.Action == CookieExpire:
		c.Value, c.MaxAge, c.Expires = "", -1, time.Unix(1, 0)
	case !m.sessionOnly(&o):
		c.MaxAge = maxAgeSeconds(o.MaxAge)
	}
	return c
}

// maxAgeSeconds is a cookie's Max-Age for a session that has d left: at
// least a second, since Max-Age 0 would delete it.
func maxAgeSeconds(d time.Duration) int { return max(1, int(d/time.Second)) }

// CookieHeader returns the value of the Set-Cookie header for o, the same
// string as m.Cookie(o, r).String(). A cookie that sets a plain token (every
// store's) is formatted from attributes NewManager prepared with net/http,
// at a fraction of the cost of formatting a Cookie on every response.
func (m *Manager) CookieHeader(o Outcome, r *http.Request) string {
	if o.Action != CookieSet || !plainCookieValue(o.Token) {
		return m.Cookie(o, r).String()
	}
	after := m.attrs.after
	if m.secure(r) {
		after = m.attrs.afterSecure
	}
	var b strings.Builder
	b.Grow(len(m.cfg.CookieName) + 1 + len(o.Token) + len(m.attrs.before) + len("; Max-Age=") + 20 + len(after))
	b.WriteString(m.cfg.CookieName)
	b.WriteByte('=')
	b.WriteString(o.Token)
	b.WriteString(m.attrs.before)
	if !m.sessionOnly(&o) {
		var digits [20]byte
		b.WriteString("; Max-Age=")
		b.Write(strconv.AppendInt(digits[:0], int64(maxAgeSeconds(o.MaxAge)), 10))
	}
	b.WriteString(after)
	return b.String()
}

// cookieAttrs are the session cookie's attributes as net/http formats them:
// those before Max-Age (Path, Domain) and those after it (HttpOnly, Secure,
// SameSite, Partitioned), without and with Secure.
type cookieAttrs struct {
	before, after, afterSecure string
}

func newCookieAttrs(c *CookieConfig) cookieAttrs {
	// Format cookies named "x" with one group of attributes each, and keep
	// what follows "x=".
	attrs := func(ck http.Cookie) string { ck.Name = "x"; return ck.String()[len("x="):] }
	return cookieAttrs{
		before:      attrs(http.Cookie{Path: c.Path, Domain: c.Domain}),
		after:       attrs(http.Cookie{HttpOnly: true, SameSite: c.SameSite, Partitioned: c.Partitioned}),
		afterSecure: attrs(http.Cookie{HttpOnly: true, Secure: true, SameSite: c.SameSite, Partitioned: c.Partitioned}),
	}
}

// plainCookieValue reports whether net/http writes v as it is: no byte it
// drops, and no space or comma, which make it quote v.
func plainCookieValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if !plainCookieByte[v[i]] {
			return false
		}
	}
	return true
}

// plainCookieByte is plainCookieValue's test for one byte, as a table: it
// runs over every token of every response that sets a cookie.
var plainCookieByte = func() (t [256]bool) {
	for c := '!'; c < 0x7f; c++ {
		t[c] = c != '"' && c != ';' && c != '\\' && c != ','
	}
	return t
}()
