package httpmw

import (
	"errors"
	"log/slog"
	"net/http"
	"net/textproto"
	"strings"
	"time"

	"github.com/sessionmesh/sessionmesh/internal/lazyctx"
	"github.com/sessionmesh/sessionmesh/session"
)

// Errors returned by this package.
var (
	// ErrDiscarded is returned by Write (and Hijack, Flush) after the session
	// could not be saved: the error handler has answered instead of the
	// handler, so the handler's output goes nowhere.
	ErrDiscarded = errors.New("httpmw: response discarded: the session could not be saved and the error handler answered instead")

	// ErrNoManager is what every request reports when New was given a nil
	// Manager: a set-up bug that must show as a clear error, not a panic.
	ErrNoManager = errors.New("httpmw: New was given a nil *session.Manager")
)

// ErrorHandler answers a request whose session could not be saved. err says
// why (it wraps the store's error). The header map it gets holds only the
// headers set before the middleware ran.
type ErrorHandler func(w http.ResponseWriter, r *http.Request, err error)

// Option configures the middleware.
type Option func(*middleware)

// WithErrorHandler replaces the default error handler, which logs err with
// the Manager's logger and answers 503 "session store unavailable".
func WithErrorHandler(h ErrorHandler) Option {
	return func(mw *middleware) {
		if h != nil {
			mw.onError = h
		}
	}
}

// WithTimeout bounds each request: the handler and the session's store
// calls get a ctx whose deadline is d after the request reached the
// middleware, and a save after that deadline is refused (the error
// handler answers, 503 by default) instead of written late. Set d below
// the time after which your clients or balancer retry a request
// elsewhere: then a request they gave up on can never overwrite what the
// retry saved (the last-writer-wins rule for a key would let it). 0 or
// less means no bound (the default). The ctx ends when the handler
// returns, as context.WithTimeout's would after its cancel; it arms no
// timer until something waits on its Done (the memory store never does,
// and the cluster store only in a peer call that waits longer than a few
// milliseconds), so the bound costs a request almost nothing.
func WithTimeout(d time.Duration) Option {
	return func(mw *middleware) { mw.timeout = d }
}

type middleware struct {
	m       *session.Manager
	name    string // the cookie name
	onError ErrorHandler
	timeout time.Duration // WithTimeout
	next    http.Handler
}

// New returns middleware that gives each request a session from m (see the
// package doc for the model).
func New(m *session.Manager, opts ...Option) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		mw := &middleware{m: m, next: next}
		mw.onError = mw.defaultError
		if m != nil {
			mw.name = m.Config().CookieName
		}
		for _, opt := range opts {
			opt(mw)
		}
		return mw
	}
}

func (mw *middleware) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if mw.m == nil {
		mw.onError(w, r, ErrNoManager)
		return
	}
	ctx := r.Context()
	if mw.m.FromContext(ctx) != nil {
		// The same Manager's middleware twice (a router's group and the
		// whole site, say): the outer one serves the session and saves it.
		mw.next.ServeHTTP(w, r)
		return
	}
	rq := new(request)
	if mw.timeout > 0 {
		rq.dl.Init(ctx, time.Now().Add(mw.timeout))
		ctx = &rq.dl
		defer rq.dl.End()
	}
	var buf [2]string // most requests send one cookie or none: no allocation
	s := mw.m.Start(ctx, mw.tokens(r, buf[:0])...)
	rw := &rq.w
	rw.init(w, r, s, mw)
	mw.next.ServeHTTP(rw, r.WithContext(session.NewContext(ctx, s)))
	// Not deferred: a handler that panics must not save half its changes.
	rw.commit()
}

// request is what the middleware keeps for one request, in one allocation:
// the response writer and, with WithTimeout, the request's ctx.
type request struct {
	w  writer
	dl lazyctx.Ctx
}

// tokens appends the values of every session cookie the request carries,
// in order, to buf: all of them, not the first, so that a cookie tossed in
// by a sibling subdomain cannot hide the user's own (see the package doc).
//
// It reads them as r.CookiesNamed does (net/http's readCookies: parts split
// at ';' and trimmed, one pair of double quotes dropped, a value with a
// byte a cookie may not hold skipped), but without making a Cookie of each
// cookie the request sent: that cost two allocations and a tenth of the
// middleware's instructions on every request. A request with more than
// maxQuickCookies cookies goes to net/http itself, whose limit on their
// number (and its GODEBUG) then applies.
func (mw *middleware) tokens(r *http.Request, buf []string) []string {
	lines := r.Header["Cookie"]
	n := 0
	for _, line := range lines {
		n += strings.Count(line, ";") + 1
	}
	if n > maxQuickCookies {
		for _, c := range r.CookiesNamed(mw.name) {
			buf = append(buf, c.Value)
		}
		return buf
	}
	for _, line := range lines {
		for line != "" {
			var part string
			part, line, _ = strings.Cut(line, ";")
			name, val, _ := strings.Cut(textproto.TrimString(part), "=")
			if textproto.TrimString(name) != mw.name {
				continue // the name is a valid token (session.ValidCookieName), so no other check
			}
			if v, ok := cookieValue(val); ok {
				buf = append(buf, v)
			}
		}
	}
	return buf
}

// maxQuickCookies is the most cookies tokens reads itself.
const maxQuickCookies = 50

// cookieValue is net/http's parseCookieValue for a request's cookie: the
// value without one pair of surrounding double quotes, and whether every
// byte of it may be in a cookie value.
func cookieValue(raw string) (string, bool) {
	if len(raw) > 1 && raw[0] == '"' && raw[len(raw)-1] == '"' {
		raw = raw[1 : len(raw)-1]
	}
	for i := 0; i < len(raw); i++ {
		if !cookieValueByte[raw[i]] {
			return "", false
		}
	}
	return raw, true
}

// cookieValueByte is net/http's validCookieValueByte as a table: it runs
// over every byte of every session cookie.
var cookieValueByte = func() (t [256]bool) {
	for b := 0x20; b < 0x7f; b++ {
		t[b] = b != '"' && b != ';' && b != '\\'
	}
	return t
}()

func (mw *middleware) defaultError(w http.ResponseWriter, r *http.Request, err error) {
	logger := slog.Default()
	if mw.m != nil {
		logger = mw.m.Config().Logger
	}
	logger.Error("httpmw: session not saved; answering 503",
		"method", r.Method, "path", r.URL.Path, "err", err)
	http.Error(w, "session store unavailable", http.StatusServiceUnavailable)
}
