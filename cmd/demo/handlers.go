package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/sessionmesh/sessionmesh/httpmw"
	"github.com/sessionmesh/sessionmesh/session"
)

// maxUserLen bounds the user name /login accepts.
const maxUserLen = 64

// maxLoginBody bounds the body /login reads (net/http's form parser would
// read 10 MB): user=NAME fits in it many times over, even percent-encoded.
// A larger body is refused with 413 before anything is stored.
const maxLoginBody = 4 << 10

// demo holds the worker's handlers.
type demo struct {
	name    string
	m       *session.Manager
	log     *slog.Logger
	timeout time.Duration // -request-timeout: httpmw.WithTimeout
	ready   atomic.Bool   // /readyz: true while serving, false while starting or draining

	// cluster is the store when it is the shared memory store, else nil;
	// status keeps its Status for GET /cluster (nil when cluster is).
	cluster clusterStore
	status  *statusCache
	// adminPort is the admin listener's port, which the demo's page links
	// to (statusURL); "" when it is off.
	adminPort string
	// readiness and drainer are the store's lifecycle (cluster.go), nil
	// when the store has none: it serves as soon as it is open, and
	// closing it loses nothing another process needs.
	readiness readiness
	drainer   drainer

	// metrics serves GET /metrics on the admin listener (metrics.go).
	metrics http.Handler

	// sess holds the routes that use the session; the middleware wraps it.
	sess *http.ServeMux
}

func newDemo(name string, m *session.Manager, log *slog.Logger) *demo {
	d := &demo{name: name, m: m, log: log, sess: http.NewServeMux()}
	st := unwrap(m.Config().Store)
	if d.cluster, _ = st.(clusterStore); d.cluster != nil {
		d.status = newStatusCache(d.cluster, time.Now)
	}
	d.readiness, _ = st.(readiness)
	d.drainer, _ = st.(drainer)
	d.sess.HandleFunc("GET /{$}", d.counter)
	d.sess.HandleFunc("GET /peek", d.peek)
	// POST only (405 otherwise): a GET must change nothing, since a
	// cross-site link or image sends one with the user's cookie
	// (SameSite=Lax lets top-level GETs through) and no browser check
	// stops it. routes refuses cross-origin POSTs.
	d.sess.HandleFunc("POST /login", d.login)
	d.sess.HandleFunc("POST /logout", d.logout)
	d.sess.HandleFunc("POST /logout-everywhere", d.logoutEverywhere)
	d.sess.HandleFunc("GET /whoami", d.whoami)
	return d
}

// routes returns the worker's whole handler. Health checks bypass the
// session middleware; everything carries X-Served-By. A cross-origin
// browser request that is not GET, HEAD or OPTIONS (a page elsewhere
// posting to /login or /logout: login and logout CSRF) is refused with
// 403 by http.CrossOriginProtection before the session is read; it
// judges by Sec-Fetch-Site, or Origin against Host, and lets requests
// with neither (curl, other programs) through.
//
// The health checks are told apart by their path and method before any
// routing (anything else goes to the session's routes, as it did when a
// ServeMux chose), so that a request of the application is routed once,
// by d.sess: a second ServeMux in front of it cost every request a lookup
// and an allocation.
func (d *demo) routes() http.Handler {
	health := http.NewServeMux()
	health.HandleFunc("GET /healthz", d.healthz)
	health.HandleFunc("GET /readyz", d.readyz)
	sess := httpmw.New(d.m, httpmw.WithTimeout(d.timeout))(d.sess)
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p := r.URL.Path; (p == "/healthz" || p == "/readyz") && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
			health.ServeHTTP(w, r)
			return
		}
		sess.ServeHTTP(w, r)
	})
	return d.servedBy(http.NewCrossOriginProtection().Handler(app))
}

func (d *demo) servedBy(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Served-By", d.name)
		next.ServeHTTP(w, r)
	})
}

// counter is the Geddy example: one more on every request. A browser
// (Accept: text/html) gets the demo's page (counterpage.go), anything
// else the plain number, byte for byte as always: scripts, test/loadcheck
// and test/bench read it.
func (d *demo) counter(w http.ResponseWriter, r *http.Request) {
	w.Header().Add("Vary", "Accept")
	s := session.FromContext(r.Context())
	n, ok := d.readCounter(w, s)
	if !ok {
		return
	}
	if err := s.Set("counter", n+1); err != nil {
		d.fail(w, s, "set counter", err)
		return
	}
	d.setOwner(w, s)
	if wantsHTML(r) {
		d.counterPage(w, r, s, n+1)
		return
	}
	text(w, line(n+1))
}

func (d *demo) peek(w http.ResponseWriter, r *http.Request) {
	w.Header().Add("Vary", "Accept")
	s := session.FromContext(r.Context())
	n, ok := d.readCounter(w, s)
	if !ok {
		return
	}
	d.setOwner(w, s)
	if wantsHTML(r) {
		d.counterPage(w, r, s, n)
		return
	}
	text(w, line(n))
}

// readCounter returns the counter. A value that does not decode (written by
// some other program) counts as 0: it is an error for that key only, and the
// next increment repairs it. A store that is down answers 503.
func (d *demo) readCounter(w http.ResponseWriter, s *session.Session) (int, bool) {
	n, err := session.Get[int](s, "counter")
	if err != nil && s.Err() != nil {
		d.fail(w, s, "load session", err)
		return 0, false
	}
	if err != nil {
		d.log.Warn("demo: counter does not decode; counting from 0", "err", err)
		n = 0
	}
	return n, true
}

// login reads the user from the form body (user=NAME), never from the
// URL: URLs end up in logs and browser history.
func (d *demo) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxLoginBody)
	if err := r.ParseForm(); err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			http.Error(w, fmt.Sprintf("login: the body is over %d bytes", maxLoginBody), http.StatusRequestEntityTooLarge)
			return
		}
		http.Error(w, "login: cannot read the form body", http.StatusBadRequest)
		return
	}
	user := r.PostForm.Get("user")
	if user == "" || len(user) > maxUserLen || !utf8.ValidString(user) {
		http.Error(w, fmt.Sprintf("login: want a form body user=NAME, 1 to %d bytes of UTF-8", maxUserLen), http.StatusBadRequest)
		return
	}
	s := session.FromContext(r.Context())
	// The principal first: it asks the store and the Revoker, the steps
	// that can fail, so a login that fails changes nothing (503: the
	// response then saves an unchanged session). With a Revoker (the
	// revoke block), "log out everywhere" ends every session of this
	// user, copies of the cookie included.
	if err := s.SetPrincipal(user); err != nil {
		d.log.Error("demo: login", "err", err)
		http.Error(w, "login failed: the session store is unavailable", http.StatusServiceUnavailable)
		return
	}
	change := []error{s.Renew(), s.Set("user", user)}
	if r.PostForm.Get("remember") != "" {
		// "Remember me": the session's own, longer timeouts
		// (Config.RememberMe, the rememberMe config block).
		change = append(change, s.RememberMe())
	}
	if err := errors.Join(change...); err != nil {
		d.fail(w, s, "login", err)
		return
	}
	d.setOwner(w, s)
	if !backHome(w, r) {
		text(w, "logged in as "+user+"\n")
	}
}

func (d *demo) logout(w http.ResponseWriter, r *http.Request) {
	s := session.FromContext(r.Context())
	if err := s.Destroy(); err != nil {
		d.fail(w, s, "logout", err)
		return
	}
	if !backHome(w, r) {
		text(w, "logged out\n")
	}
}

// logoutEverywhere ends every session of the signed-in user, on every
// device: with a store that finds them (memory, cluster, Redis) it deletes
// them (Manager.DestroyPrincipal, which also revokes when a revoke store
// is set, and ends this request's session with them); with another store
// it revokes them (Manager.RevokePrincipal), then destroys this one.
// Without either it answers 501 and changes nothing.
func (d *demo) logoutEverywhere(w http.ResponseWriter, r *http.Request) {
	s := session.FromContext(r.Context())
	user, err := s.Principal()
	switch {
	case err != nil:
		d.fail(w, s, "logout everywhere", err)
		return
	case user == "":
		http.Error(w, "not logged in", http.StatusUnauthorized)
		return
	}
	_, err = d.m.DestroyPrincipal(r.Context(), user)
	switch {
	case errors.Is(err, errors.ErrUnsupported):
		if !d.revokeEverywhere(w, s, r, user) {
			return
		}
	case err != nil:
		d.log.Error("demo: logout everywhere", "err", err)
		http.Error(w, "logout everywhere failed: the session store is unavailable", http.StatusServiceUnavailable)
		return
	}
	if !backHome(w, r) {
		text(w, "logged out everywhere\n")
	}
}

// revokeEverywhere is logoutEverywhere over a store that cannot find a
// user's sessions: it revokes them and destroys this one. It reports
// whether it did; otherwise it has answered.
func (d *demo) revokeEverywhere(w http.ResponseWriter, s *session.Session, r *http.Request, user string) bool {
	if d.m.Config().Revoker == nil {
		http.Error(w, "logout everywhere needs a store that lists sessions (memory, cluster, redis) or a revoke store (revoke.store: redis or memory)", http.StatusNotImplemented)
		return false
	}
	// With revoke.onDestroy, Destroy below revokes; otherwise revoke here.
	if !d.m.Config().RevokeOnDestroy {
		if err := d.m.RevokePrincipal(r.Context(), user); err != nil {
			d.log.Error("demo: logout everywhere", "err", err)
			http.Error(w, "logout everywhere failed: the revoke store is unavailable", http.StatusServiceUnavailable)
			return false
		}
	}
	if err := s.Destroy(); err != nil {
		d.fail(w, s, "logout everywhere", err)
		return false
	}
	return true
}

func (d *demo) whoami(w http.ResponseWriter, r *http.Request) {
	s := session.FromContext(r.Context())
	user, err := session.Get[string](s, "user")
	switch {
	case err != nil:
		d.fail(w, s, "whoami", err)
	case user == "":
		http.Error(w, "not logged in", http.StatusUnauthorized)
	default:
		text(w, user+"\n")
	}
}

func (d *demo) healthz(w http.ResponseWriter, r *http.Request) { text(w, "ok\n") }

// readyz answers 200 only while the worker serves and its store does: a
// cluster node that is still pulling its partitions, or is handing them
// away, is not ready, so a balancer sends its users elsewhere.
func (d *demo) readyz(w http.ResponseWriter, r *http.Request) {
	switch {
	case !d.ready.Load():
		http.Error(w, "not ready: starting or shutting down", http.StatusServiceUnavailable)
	case d.readiness != nil && !d.readiness.Ready():
		http.Error(w, "not ready: the cluster node is joining or draining", http.StatusServiceUnavailable)
	default:
		text(w, "ready\n")
	}
}

// fail logs err and answers 503 when the store could not be read, 500
// otherwise; the details stay in the log. When the session cannot be saved
// either, the middleware's 503 replaces this answer.
func (d *demo) fail(w http.ResponseWriter, s *session.Session, what string, err error) {
	d.log.Error("demo: "+what, "err", err)
	code := http.StatusInternalServerError
	if s.Err() != nil {
		code = http.StatusServiceUnavailable
	}
	http.Error(w, what+" failed", code)
}

// line returns n and a newline, the plain answer of / and /peek.
func line(n int) string {
	var b [24]byte
	return string(append(strconv.AppendInt(b[:0], int64(n), 10), '\n'))
}

func text(w http.ResponseWriter, s string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	io.WriteString(w, s)
}
