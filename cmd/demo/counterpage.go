package main

import (
	"errors"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/sessionmesh/sessionmesh/session"
)

// counterView is what the demo's page (GET / and GET /peek in a browser)
// shows: the values the plain answer is made of, and who served them.
type counterView struct {
	Counter   int
	ServedBy  string // this worker's -name
	Owner     string // the cluster node that owns the session; "" for other stores
	User      string // who logged in; "" for nobody
	MaxUser   int
	StatusURL string // the status page on the admin listener; "" when it is off
	// Everywhere: "log out everywhere" works, with a store that finds the
	// user's sessions (DestroyPrincipal) or a revoke store.
	Everywhere bool
	// Sessions are the user's sessions when the store can list them
	// (Manager.Sessions), oldest first; nil otherwise.
	Sessions []sessionRow
}

// sessionRow is one of the user's sessions on the page.
type sessionRow struct {
	IDHash, Created, LastSeen string
	This                      bool // the session of this request: "this device"
}

// counterPage renders n, read and saved by the caller, as the demo's page.
// It reads the user from the same session: no load beyond the caller's.
func (d *demo) counterPage(w http.ResponseWriter, r *http.Request, s *session.Session, n int) {
	user, err := session.Get[string](s, "user")
	if err != nil {
		d.log.Warn("demo: user does not decode; showing nobody", "err", err)
	}
	v := counterView{Counter: n, ServedBy: d.name, User: user, MaxUser: maxUserLen, StatusURL: d.statusURL(r)}
	if d.cluster != nil && s.ID() != "" {
		v.Owner = d.cluster.Owner(s.ID())
	}
	var listed bool
	v.Sessions, listed = d.sessionRows(r, s)
	v.Everywhere = listed || d.m.Config().Revoker != nil
	d.renderPage(w, "counter.html", pageData{Page: v})
}

// sessionRows lists the sessions of the request's user (Manager.Sessions)
// for the page; listed is false when the store cannot list them. A
// listing that fails is logged and shows none: the page still serves.
func (d *demo) sessionRows(r *http.Request, s *session.Session) (rows []sessionRow, listed bool) {
	p, err := s.Principal()
	if err != nil || p == "" {
		return nil, false
	}
	infos, err := d.m.Sessions(r.Context(), p)
	if errors.Is(err, errors.ErrUnsupported) {
		return nil, false
	}
	if err != nil {
		d.log.Warn("demo: list the user's sessions", "err", err)
		return nil, true
	}
	this := session.IDHash(s.ID())
	for _, in := range infos {
		rows = append(rows, sessionRow{IDHash: in.IDHash, Created: in.Created.UTC().Format(time.DateTime),
			LastSeen: in.LastSeen.UTC().Format(time.DateTime), This: in.IDHash == this})
	}
	return rows, true
}

// statusURL returns the status page's URL as the user's browser reaches
// it: the host the browser asked for, on the admin listener's port. That
// is right for a worker on loopback (127.0.0.1:8081) and for compose,
// whose balancer serves the admin listeners on the host's port 8081; an
// admin listener on another address or port than the user reaches is not
// guessed. "" when the admin listener is off.
func (d *demo) statusURL(r *http.Request) string {
	if d.adminPort == "" {
		return ""
	}
	host, _, err := net.SplitHostPort(r.Host)
	if err != nil {
		host = r.Host
	}
	return (&url.URL{Scheme: "http", Host: net.JoinHostPort(host, d.adminPort), Path: "/cluster"}).String()
}

// backHome answers a browser's form post (login, logout) with a redirect
// to the page that shows the result without counting (/peek), so that a
// reload does not post again. It reports whether it did.
func backHome(w http.ResponseWriter, r *http.Request) bool {
	if !wantsHTML(r) {
		return false
	}
	http.Redirect(w, r, "/peek", http.StatusSeeOther)
	return true
}
