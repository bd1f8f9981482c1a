package httpmw_test

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionmesh/sessionmesh/httpmw"
	"github.com/sessionmesh/sessionmesh/session"
	"github.com/sessionmesh/sessionmesh/stores/cookie"
)

// cookieServer runs the counter over the cookie store with keys, the cookie
// name name and the clock now.
func cookieServer(t *testing.T, name string, now func() time.Time, keys ...cookie.Key) *httptest.Server {
	t.Helper()
	st, err := cookie.New(cookie.Config{Keys: keys, CookieName: name, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	cfg := session.DefaultConfig(st)
	cfg.CookieName, cfg.Now, cfg.IdleTimeout, cfg.TouchInterval = name, now, time.Hour, 0
	m, err := session.NewManager(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(httpmw.New(m)(http.HandlerFunc(counter)))
	t.Cleanup(srv.Close)
	return srv
}

func key(id string, b byte) cookie.Key {
	return cookie.Key{ID: id, Secret: bytes.Repeat([]byte{b}, 32)}
}

// send requests srv with the cookie name=value and returns status and body.
func send(t *testing.T, srv *httptest.Server, name, value string) (int, string, *http.Response) {
	t.Helper()
	req, _ := http.NewRequest("GET", srv.URL, nil)
	req.AddCookie(&http.Cookie{Name: name, Value: value})
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body bytes.Buffer
	body.ReadFrom(resp.Body)
	return resp.StatusCode, body.String(), resp
}

// TestCookieStoreBadCookiesStartFresh: through the middleware, every kind
// of cookie that must not open gives a fresh session: no error page, no
// panic, a new cookie.
func TestCookieStoreBadCookiesStartFresh(t *testing.T) {
	var nanos atomic.Int64
	nanos.Store(time.Now().UnixNano())
	now := func() time.Time { return time.Unix(0, nanos.Load()) }
	k1, k2 := key("k1", 1), key("k2", 2)
	srv := cookieServer(t, "sid", now, k1)

	_, _, resp := send(t, srv, "sid", "")
	good := resp.Cookies()[0].Value
	if _, body, _ := send(t, srv, "sid", good); body != "2\n" {
		t.Fatalf("a good sealed cookie counted %q, want 2", body)
	}
	tampered := []byte(good) // still valid base64: only the ciphertext changed
	if i := len(tampered) / 2; tampered[i] == 'A' {
		tampered[i] = 'B'
	} else {
		tampered[i] = 'A'
	}
	rotatedAway := cookieServer(t, "sid", now, k2) // k1 removed
	renamed := cookieServer(t, "other", now, k1)   // same key, another cookie name

	cases := []struct {
		name   string
		srv    *httptest.Server
		cookie string
		value  string
	}{
		{"tampered", srv, "sid", string(tampered)},
		{"sealed with a removed key", rotatedAway, "sid", good},
		{"copied to another cookie name", renamed, "other", good},
		{"garbage", srv, "sid", strings.Repeat("%", 100)},
	}
	for _, c := range cases {
		code, body, resp := send(t, c.srv, c.cookie, c.value)
		if code != http.StatusOK || body != "1\n" || len(resp.Cookies()) == 0 {
			t.Errorf("%s cookie: %d %q, cookies %v; want 200, a fresh counter of 1 and a new cookie", c.name, code, body, resp.Cookies())
		}
	}
	nanos.Add(int64(time.Hour))
	if code, body, _ := send(t, srv, "sid", good); code != http.StatusOK || body != "1\n" {
		t.Errorf("expired cookie: %d %q, want a fresh 1", code, body)
	}
}
