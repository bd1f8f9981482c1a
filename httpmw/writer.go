package httpmw

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"

	"github.com/sessionmesh/sessionmesh/session"
)

// writer commits the session before the first byte of the response. Like
// any http.ResponseWriter it is used by one goroutine at a time, so it needs
// no lock.
type writer struct {
	w  http.ResponseWriter
	r  *http.Request
	s  *session.Session
	mw *middleware

	// outer holds the headers set before the middleware ran, which the
	// error handler keeps: the first few in place (a request ID, a
	// served-by header: what outer middleware usually set), more in
	// outerMore. The value slices are shared with the header map, not
	// copied: a handler replaces a header's values (Set) or appends to them
	// (Add), which leaves the slices kept here as they were; copying every
	// response's headers for the rare error response cost an allocation per
	// header on every request.
	outer     [2]headerField
	outerN    int
	outerMore []headerField

	// vals holds the values of the headers the commit adds, so that they
	// take no allocation of their own: Set-Cookie, Cache-Control and Vary
	// for a new cookie, or the Vary line with Cookie added.
	vals [3]string

	committed bool
	failed    bool // the commit failed and the error handler answered
}

// headerField is one header's name and values.
type headerField struct {
	name   string
	values []string
}

// init sets up rw, which is zero, to commit s before the first byte of the
// response w to r.
func (rw *writer) init(w http.ResponseWriter, r *http.Request, s *session.Session, mw *middleware) {
	rw.w, rw.r, rw.s, rw.mw = w, r, s, mw
	for k, v := range w.Header() {
		f := headerField{k, v[:len(v):len(v)]} // full: an append copies
		if rw.outerN < len(rw.outer) {
			rw.outer[rw.outerN] = f
			rw.outerN++
		} else {
			rw.outerMore = append(rw.outerMore, f)
		}
	}
}

// commit saves the session once, then either adds the cookie headers or, on
// failure, lets the error handler answer in place of the handler.
func (rw *writer) commit() {
	if rw.committed {
		return
	}
	rw.committed = true
	o, err := rw.mw.m.Commit(rw.s)
	if err != nil {
		rw.fail(err)
		return
	}
	rw.addHeaders(o)
}

func (rw *writer) fail(err error) {
	rw.failed = true
	h := rw.w.Header()
	clear(h)
	for _, f := range rw.outer[:rw.outerN] {
		h[f.name] = f.values
	}
	for _, f := range rw.outerMore {
		h[f.name] = f.values
	}
	rw.mw.onError(rw.w, rw.r, err)
}

func (rw *writer) addHeaders(o session.Outcome) {
	h := rw.w.Header()
	if o.Action == session.CookieKeep {
		if rw.s.Loaded() {
			rw.varyCookie(h)
		}
		return
	}
	cookie := rw.mw.m.CookieHeader(o, rw.r)
	if h["Set-Cookie"] != nil || h["Cache-Control"] != nil || h["Vary"] != nil {
		h.Add("Set-Cookie", cookie)
		h.Add("Cache-Control", `no-cache="Set-Cookie"`)
		rw.varyCookie(h)
		return
	}
	// The usual case: none of the three is set yet, so their values go in
	// vals, as the header maps net/http parses share one array.
	rw.vals = [3]string{cookie, `no-cache="Set-Cookie"`, "Cookie"}
	h["Set-Cookie"], h["Cache-Control"], h["Vary"] = rw.vals[0:1:1], rw.vals[1:2:2], rw.vals[2:3:3]
}

// varyCookie adds Cookie to the Vary header unless it is already listed,
// in vals when the lines fit (a handler's own Vary: Accept, say). The
// slice is full, so a later Add copies it.
func (rw *writer) varyCookie(h http.Header) {
	lines := h["Vary"]
	for _, line := range lines {
		for f := range strings.SplitSeq(line, ",") {
			if f = strings.TrimSpace(f); strings.EqualFold(f, "Cookie") || f == "*" {
				return
			}
		}
	}
	if len(lines) >= len(rw.vals) {
		h["Vary"] = append(lines, "Cookie")
		return
	}
	n := copy(rw.vals[:], lines)
	rw.vals[n] = "Cookie"
	h["Vary"] = rw.vals[: n+1 : n+1]
}

// Header returns the response's header map.
func (rw *writer) Header() http.Header { return rw.w.Header() }

// WriteHeader commits, then sends the status; an informational status
// (1xx but 101) is passed on without committing.
func (rw *writer) WriteHeader(code int) {
	if code >= 100 && code < 200 && code != http.StatusSwitchingProtocols {
		if !rw.failed {
			rw.w.WriteHeader(code)
		}
		return
	}
	rw.commit()
	if !rw.failed {
		rw.w.WriteHeader(code)
	}
}

// Write commits, then writes p; after a failed commit it writes nothing.
func (rw *writer) Write(p []byte) (int, error) {
	rw.commit()
	if rw.failed {
		return 0, ErrDiscarded
	}
	return rw.w.Write(p)
}

// WriteString commits, then writes s (io.StringWriter), so that
// io.WriteString reaches net/http's own WriteString without a copy of s.
func (rw *writer) WriteString(s string) (int, error) {
	rw.commit()
	if rw.failed {
		return 0, ErrDiscarded
	}
	return io.WriteString(rw.w, s)
}

// ReadFrom commits, then copies from src, so io.Copy and http.ServeContent
// keep the underlying writer's sendfile path.
func (rw *writer) ReadFrom(src io.Reader) (int64, error) {
	rw.commit()
	if rw.failed {
		return 0, ErrDiscarded
	}
	return io.Copy(rw.w, src)
}

// Unwrap lets http.ResponseController reach the underlying writer for the
// methods this wrapper does not intercept (deadlines, full duplex).
func (rw *writer) Unwrap() http.ResponseWriter { return rw.w }

// Flush commits, then flushes (http.Flusher).
func (rw *writer) Flush() { _ = rw.FlushError() }

// FlushError commits, then flushes; http.ResponseController calls it.
func (rw *writer) FlushError() error {
	rw.commit()
	if err := http.NewResponseController(rw.w).Flush(); err != nil {
		return fmt.Errorf("httpmw: flush: %w", err)
	}
	return nil
}

// Hijack commits, then hands over the connection (http.Hijacker). After a
// failed commit the error response is on its way and Hijack refuses.
func (rw *writer) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	rw.commit()
	if rw.failed {
		return nil, nil, fmt.Errorf("httpmw: hijack: %w", ErrDiscarded)
	}
	c, brw, err := http.NewResponseController(rw.w).Hijack()
	if err != nil {
		return nil, nil, fmt.Errorf("httpmw: hijack: %w", err)
	}
	return c, brw, nil
}
