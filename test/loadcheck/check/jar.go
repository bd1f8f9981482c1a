package check

import (
	"net/http"
	"net/url"
	"sync"
	"time"
)

// siteJar is a user's cookie jar. It treats every worker as one site,
// because behind a real load balancer they are one: the browser sees a
// single origin. (net/http/cookiejar would keep "localhost" and "127.0.0.1"
// apart, and a test mixing them would lose sessions that were never lost.)
// Domain and Path are ignored for the same reason; expiry is honoured, so a
// server that deletes the cookie deletes it.
type siteJar struct {
	now func() time.Time

	mu      sync.Mutex              // guards cookies
	cookies map[string]*http.Cookie // by name
}

func newSiteJar(now func() time.Time) *siteJar {
	return &siteJar{now: now, cookies: make(map[string]*http.Cookie)}
}

// SetCookies implements http.CookieJar.
func (j *siteJar) SetCookies(_ *url.URL, cookies []*http.Cookie) {
	now := j.now()
	j.mu.Lock()
	defer j.mu.Unlock()
	for _, c := range cookies {
		if c.MaxAge < 0 || !c.Expires.IsZero() && c.Expires.Before(now) {
			delete(j.cookies, c.Name)
			continue
		}
		j.cookies[c.Name] = &http.Cookie{Name: c.Name, Value: c.Value}
	}
}

// Cookies implements http.CookieJar.
func (j *siteJar) Cookies(_ *url.URL) []*http.Cookie {
	j.mu.Lock()
	defer j.mu.Unlock()
	out := make([]*http.Cookie, 0, len(j.cookies))
	for _, c := range j.cookies {
		out = append(out, c)
	}
	return out
}
