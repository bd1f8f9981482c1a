package gorillastore

import (
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/sessions"
	"github.com/sessionmesh/sessionmesh/session"
)

// defaultMaxAge is the default Options.MaxAge, in seconds: the session
// package's default idle timeout (14 days).
var defaultMaxAge = int(session.DefaultConfig(nil).IdleTimeout / time.Second)

// Store is a gorilla/sessions Store over a session.Store. Set its fields
// before the first request; it is then safe for concurrent use.
type Store struct {
	// Options are the defaults every new session copies (gorilla's
	// convention); see the package doc for how each is used.
	Options *sessions.Options

	// Secure says when the cookie is Secure if a session's Options.Secure
	// is false. Default session.SecureAuto.
	Secure session.SecureMode

	// TrustProxy makes SecureAuto believe "X-Forwarded-Proto: https", as
	// session.CookieConfig.TrustProxy does. Default false.
	TrustProxy bool

	store session.Store
	newID func() string

	mu      sync.Mutex
	cookies map[cookieKey]*session.Manager // see cookie.go
}

// New returns a Store keeping its sessions in st, with the default Options.
func New(st session.Store) *Store {
	s := &Store{
		Options: &sessions.Options{Path: "/", MaxAge: defaultMaxAge, HttpOnly: true, SameSite: http.SameSiteLaxMode},
		store:   st,
		newID:   session.NewID,
	}
	if g, ok := st.(session.IDGenerator); ok {
		s.newID = g.NewID
	}
	return s
}

// Get returns the session named name for r, loading it on the request's
// first call and returning the same session on later ones (gorilla's
// registry). See New for the error.
func (st *Store) Get(r *http.Request, name string) (*sessions.Session, error) {
	return sessions.GetRegistry(r).Get(st, name)
}

// New loads the session whose token r's cookie name carries, or returns a
// new session (IsNew) when there is none or the store does not know it. It
// always returns a session; the error reports a store failure (then Save
// refuses to write) or values that did not decode (the rest are there).
func (st *Store) New(r *http.Request, name string) (*sessions.Session, error) {
	s := sessions.NewSession(st, name)
	if st.Options != nil { // nil means gorilla's zero Options
		*s.Options = *st.Options
	}
	s.IsNew = true
	l := &loaded{}
	remember(r, s, l)
	c, err := r.Cookie(name)
	if err != nil {
		return s, nil // no cookie: a new session
	}
	rec, found, err := st.store.Load(r.Context(), c.Value)
	if err != nil {
		l.err = fmt.Errorf("gorillastore: load session %q: %w", name, err)
		return s, l.err
	}
	if !found {
		return s, nil
	}
	s.IsNew, s.ID, l.token = false, rec.ID, c.Value
	if s.ID == "" {
		s.ID = c.Value
	}
	if l.values, err = decodeValues(s.Values, rec.Values); err != nil {
		return s, fmt.Errorf("gorillastore: session %q: %w", name, err)
	}
	return s, nil
}

// Save writes what the request changed in s (see the package doc) and sets
// its cookie, or, with Options.MaxAge < 0, deletes s and expires its cookie.
func (st *Store) Save(r *http.Request, w http.ResponseWriter, s *sessions.Session) error {
	l := recall(r, s)
	switch {
	case l == nil:
		return fmt.Errorf("gorillastore: session %q was not loaded by this Store for this request; get it with Get(r, name) and save it with the same r", s.Name())
	case l.err != nil:
		return fmt.Errorf("%w; nothing saved", l.err)
	case s.Options == nil:
		return fmt.Errorf("gorillastore: session %q has nil Options; nothing saved", s.Name())
	}
	m, err := st.cookieManager(s.Name(), s.Options)
	if err != nil {
		return err
	}
	if s.Options.MaxAge < 0 {
		return st.delete(r, w, s, l, m)
	}
	idle, err := idleTimeout(s.Options.MaxAge)
	if err != nil {
		return fmt.Errorf("gorillastore: session %q: %w", s.Name(), err)
	}
	p, values, err := diff(s.Values, l.values)
	if err != nil {
		return fmt.Errorf("gorillastore: session %q: %w; nothing saved", s.Name(), err)
	}
	p.Now, p.Idle = time.Now(), idle
	if l.token == "" {
		p.NewID = st.newID()
	}
	token, err := st.write(r, l.token, p)
	if err != nil {
		return fmt.Errorf("gorillastore: save session %q: %w", s.Name(), err)
	}
	if p.NewID != "" {
		s.ID = p.NewID
	}
	l.token, l.values = token, values
	http.SetCookie(w, m.Cookie(session.Outcome{Action: session.CookieSet, Token: token, MaxAge: idle}, r))
	return nil
}

// write saves p unless the request's deadline has passed: a request its
// client gave up on must not overwrite the retry (session.CheckDeadline).
func (st *Store) write(r *http.Request, token string, p session.Patch) (string, error) {
	if err := session.CheckDeadline(r.Context()); err != nil {
		return "", err
	}
	token, err := st.store.Save(r.Context(), token, p)
	if errors.Is(err, session.ErrNotFound) {
		return "", fmt.Errorf("ended by a concurrent request or expired, not brought back: %w", err)
	}
	return token, err
}

// delete ends s: it removes it from the store and expires its cookie.
func (st *Store) delete(r *http.Request, w http.ResponseWriter, s *sessions.Session, l *loaded, m *session.Manager) error {
	if l.token != "" {
		err := session.CheckDeadline(r.Context())
		if err == nil {
			err = st.store.Delete(r.Context(), l.token)
		}
		if err != nil {
			return fmt.Errorf("gorillastore: delete session %q: %w", s.Name(), err)
		}
	}
	l.token, l.values = "", nil
	http.SetCookie(w, m.Cookie(session.Outcome{Action: session.CookieExpire}, r))
	return nil
}

// maxMaxAge is the largest MaxAge a time.Duration holds, in seconds.
const maxMaxAge = int64(1<<63-1) / int64(time.Second)

// idleTimeout is the store's idle timeout for a session whose Options
// have maxAge >= 0: maxAge seconds, or the default for 0 (a browser-session
// cookie).
func idleTimeout(maxAge int) (time.Duration, error) {
	switch {
	case maxAge == 0:
		return time.Duration(defaultMaxAge) * time.Second, nil
	case int64(maxAge) > maxMaxAge:
		return 0, fmt.Errorf("Options.MaxAge is %d; must be at most %d seconds", maxAge, maxMaxAge)
	}
	return time.Duration(maxAge) * time.Second, nil
}
