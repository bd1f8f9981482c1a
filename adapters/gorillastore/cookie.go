package gorillastore

import (
	"fmt"

	"github.com/gorilla/sessions"
	"github.com/sessionmesh/sessionmesh/session"
)

// The cookie is written by a session.Manager, so that its attributes follow
// the session package's rules (HttpOnly, when Secure, what browsers drop)
// rather than a copy of them. A Manager holds one cookie configuration, so
// the Store keeps one per configuration its sessions' Options ask for: in
// practice one per cookie name.

// cookieKey is one cookie configuration: a name and its attributes.
type cookieKey struct {
	name string
	cfg  session.CookieConfig
}

// cookieManager returns the Manager that writes the cookie name with opts,
// or the error naming what browsers would refuse in them.
func (st *Store) cookieManager(name string, opts *sessions.Options) (*session.Manager, error) {
	k := cookieKey{name: name, cfg: st.cookieConfig(opts)}
	st.mu.Lock()
	defer st.mu.Unlock()
	if m, ok := st.cookies[k]; ok {
		return m, nil
	}
	m, err := session.NewManager(session.Config{Store: st.store, CookieName: name, Cookie: k.cfg})
	if err != nil {
		return nil, fmt.Errorf("gorillastore: the cookie of session %q: %w", name, err)
	}
	if st.cookies == nil {
		st.cookies = make(map[cookieKey]*session.Manager)
	}
	st.cookies[k] = m
	return m, nil
}

// cookieConfig maps gorilla's Options to the session package's cookie
// attributes. HttpOnly is not among them: the cookie always has it.
func (st *Store) cookieConfig(o *sessions.Options) session.CookieConfig {
	c := session.CookieConfig{
		Path:        o.Path,
		Domain:      o.Domain,
		Secure:      st.Secure,
		SameSite:    o.SameSite,
		SessionOnly: o.MaxAge == 0,
		Partitioned: o.Partitioned,
		TrustProxy:  st.TrustProxy,
	}
	if o.Secure {
		c.Secure = session.SecureAlways
	}
	return c
}
