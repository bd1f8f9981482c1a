package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// cookieFiles are the files of Cookie headers that wrk picks sessions from,
// by mode: "sid=..." for direct and round-robin, "sid=...; SRV=w1" for the
// sticky balancer.
type cookieFiles map[string]string

// createAttempts is how often one session's creation is tried before the
// setup is given up.
const createAttempts = 3

// readBack is how many sessions checkSessions reads back per mode.
const readBack = 50

// prepareSessions creates n sessions on s (through the sticky frontend
// where there is one, so each session learns the worker it sticks to),
// checks that they read back through every mode that cases use, and
// writes their cookie files. loadgen's HAProxy keeps no sessions: its
// cookies are made up.
func (b *bench) prepareSessions(ctx context.Context, s *setup, n int, modes []string) (cookieFiles, error) {
	base := filepath.Join(b.dir, fmt.Sprintf("%s-%d", s.name, n))
	if s.name == setupLoadgen {
		lines := make([]string, n)
		for i := range lines {
			lines[i] = sessionCookie + "=" + newID()
		}
		path := base + ".cookies"
		return cookieFiles{modeDirect: path}, writeLines(path, lines)
	}
	entry, sticky := s.urls[modeSticky]
	if !sticky {
		entry = s.urls[modeDirect]
	}
	start := time.Now()
	cookies, err := createSessions(ctx, entry, n, b.opts.Connections)
	if err != nil {
		return nil, err
	}
	if sticky && cookies[0].srv == "" {
		return nil, fmt.Errorf("the sticky balancer %s set no %s cookie", entry, stickyCookie)
	}
	b.logf("  %d sessions created in %.1fs (%.0f/s)", n, time.Since(start).Seconds(), float64(n)/time.Since(start).Seconds())
	files := cookieFiles{}
	for _, mode := range modes {
		if err := checkSessions(ctx, s.urls[mode], cookies, mode == modeSticky); err != nil {
			return nil, fmt.Errorf("%s (%s): %w", s.name, mode, err)
		}
		path := base + "." + mode + ".cookies"
		lines := make([]string, n)
		for i, c := range cookies {
			lines[i] = c.header(mode == modeSticky)
		}
		if err := writeLines(path, lines); err != nil {
			return nil, err
		}
		files[mode] = path
	}
	return files, nil
}

// sessionCookies are the cookies one session's creation set.
type sessionCookies struct {
	sid, srv string // srv: the sticky balancer's, "" without one
}

// header returns the Cookie header of the session's later requests.
func (c sessionCookies) header(sticky bool) string {
	h := sessionCookie + "=" + c.sid
	if sticky && c.srv != "" {
		h += "; " + stickyCookie + "=" + c.srv
	}
	return h
}

// createSessions makes n sessions with GET base/ without a cookie, conns
// requests at a time, and returns the cookies each was given.
func createSessions(ctx context.Context, base string, n, conns int) ([]sessionCookies, error) {
	client := &http.Client{
		Timeout:   10 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns},
	}
	defer client.CloseIdleConnections()
	out := make([]sessionCookies, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make([]error, conns)
	for g := range conns {
		wg.Go(func() {
			for i := int(next.Add(1)) - 1; i < n && errs[g] == nil; i = int(next.Add(1)) - 1 {
				out[i], errs[g] = createSession(ctx, client, base)
			}
		})
	}
	wg.Wait()
	return out, errors.Join(errs...)
}

// createSession tries createAttempts times to make one session.
func createSession(ctx context.Context, client *http.Client, base string) (sessionCookies, error) {
	var err error
	for range createAttempts {
		var c sessionCookies
		if c, err = createOnce(ctx, client, base); err == nil || ctx.Err() != nil {
			return c, err
		}
	}
	return sessionCookies{}, fmt.Errorf("create a session (%d attempts): %w", createAttempts, err)
}

func createOnce(ctx context.Context, client *http.Client, base string) (sessionCookies, error) {
	var c sessionCookies
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/", nil)
	if err != nil {
		return c, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return c, err
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || strings.TrimSpace(string(body)) != "1" {
		return c, fmt.Errorf("GET %s/: %s %q, want 200 \"1\"", base, resp.Status, body)
	}
	for _, k := range resp.Cookies() {
		switch k.Name {
		case sessionCookie:
			c.sid = k.Value
		case stickyCookie:
			c.srv = k.Value
		}
	}
	if c.sid == "" {
		return c, fmt.Errorf("GET %s/: no %s cookie in %q", base, sessionCookie, resp.Header.Values("Set-Cookie"))
	}
	return c, nil
}

// checkSessions reads readBack of the sessions back through base: each
// must answer GET /peek with the count its creation left, 1. It catches a
// balancer that does not stick (the ceiling's workers would not know the
// session) and a store that lost what it acknowledged.
func checkSessions(ctx context.Context, base string, cookies []sessionCookies, sticky bool) error {
	client := &http.Client{Timeout: 10 * time.Second}
	defer client.CloseIdleConnections()
	step := max(1, len(cookies)/readBack)
	for i := 0; i < len(cookies); i += step {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/peek", nil)
		if err != nil {
			return err
		}
		req.Header.Set("Cookie", cookies[i].header(sticky))
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || string(body) != "1\n" {
			return fmt.Errorf("session %d read back as %s %q, want 200 \"1\"", i, resp.Status, body)
		}
	}
	return nil
}

func writeLines(path string, lines []string) error {
	var b strings.Builder
	for _, l := range lines {
		b.WriteString(l)
		b.WriteByte('\n')
	}
	return os.WriteFile(path, []byte(b.String()), 0o644)
}
