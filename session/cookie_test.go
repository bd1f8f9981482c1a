package session_test

import (
	"crypto/tls"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sessionmesh/sessionmesh/session"
)

// request returns a GET of url; tls says it came over TLS, and header
// holds "Name: value" lines to add.
func request(url string, overTLS bool, header ...string) *http.Request {
	r := httptest.NewRequest("GET", url, nil)
	if overTLS {
		r.TLS = &tls.ConnectionState{}
	}
	for _, h := range header {
		name, value, _ := strings.Cut(h, ": ")
		r.Header.Add(name, value)
	}
	return r
}

// TestSecureRule: under the default SecureAuto the cookie is Secure unless
// the request is plain HTTP to a loopback host; the overrides, the cookie
// name prefixes and Partitioned decide whatever the request.
func TestSecureRule(t *testing.T) {
	auto := func(*session.Config) {}
	trust := func(c *session.Config) { c.Cookie.TrustProxy = true }
	always := func(c *session.Config) { c.Cookie.Secure = session.SecureAlways }
	never := func(c *session.Config) { c.Cookie.Secure = session.SecureNever }
	named := func(name string) func(*session.Config) { return func(c *session.Config) { c.CookieName = name } }
	partitioned := func(c *session.Config) { c.Cookie.Partitioned = true }
	tests := []struct {
		name   string
		cfg    func(*session.Config)
		r      *http.Request
		secure bool
	}{
		{"TLS to a public name", auto, request("https://shop.example/", true), true},
		{"TLS to localhost", auto, request("https://localhost/", true), true},
		{"plain to localhost", auto, request("http://localhost/", false), false},
		{"plain to localhost:8080", auto, request("http://localhost:8080/", false), false},
		{"plain to LOCALHOST.", auto, request("http://LOCALHOST./", false), false},
		{"plain to a name under .localhost", auto, request("http://app.localhost:3000/", false), false},
		{"plain to 127.0.0.1", auto, request("http://127.0.0.1/", false), false},
		{"plain to 127.1.2.3:8080", auto, request("http://127.1.2.3:8080/", false), false},
		{"plain to [::1]", auto, request("http://[::1]/", false), false},
		{"plain to [::1]:8080", auto, request("http://[::1]:8080/", false), false},
		{"plain to a public name", auto, request("http://shop.example/", false), true},
		{"plain to a container name", auto, request("http://worker:8080/", false), true},
		{"plain to a LAN address", auto, request("http://192.168.1.20:8080/", false), true},
		{"plain to 0.0.0.0", auto, request("http://0.0.0.0:8080/", false), true},
		{"plain to localhost.example", auto, request("http://localhost.example/", false), true},
		{"plain to notlocalhost", auto, request("http://notlocalhost/", false), true},
		{"plain with no Host", auto, func() *http.Request { r := request("http://x/", false); r.Host = ""; return r }(), true},
		{"no request", auto, nil, true},
		{"untrusted proxy https to a public name", auto, request("http://shop.example/", false, "X-Forwarded-Proto: https"), true},
		{"untrusted proxy https to localhost", auto, request("http://localhost/", false, "X-Forwarded-Proto: https"), false},
		{"trusted proxy https to localhost", trust, request("http://127.0.0.1:8080/", false, "X-Forwarded-Proto: https"), true},
		{"trusted proxy HTTPS to localhost", trust, request("http://127.0.0.1:8080/", false, "X-Forwarded-Proto: HTTPS"), true},
		{"trusted proxy http to localhost", trust, request("http://localhost/", false, "X-Forwarded-Proto: http"), false},
		{"trusted proxy http to a public name", trust, request("http://shop.example/", false, "X-Forwarded-Proto: http"), true},
		{"always, plain to localhost", always, request("http://localhost/", false), true},
		{"never, TLS to a public name", never, request("https://shop.example/", true), false},
		{"__Host- name, plain to localhost", named("__Host-sid"), request("http://localhost/", false), true},
		{"__host- name (any case), plain to localhost", named("__host-sid"), request("http://localhost/", false), true},
		{"__Secure- name, plain to localhost", named("__Secure-sid"), request("http://localhost/", false), true},
		{"partitioned, plain to localhost", partitioned, request("http://localhost/", false), true},
		{"a name merely containing __Host-", named("x__Host-sid"), request("http://localhost/", false), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, tt.cfg)
			for _, o := range []session.Outcome{{Action: session.CookieSet, Token: "tok", MaxAge: time.Hour}, {Action: session.CookieExpire}} {
				if c := e.m.Cookie(o, tt.r); c.Secure != tt.secure {
					t.Errorf("action %d: cookie %q: Secure=%v, want %v", o.Action, c, c.Secure, tt.secure)
				}
				if got, want := e.m.CookieHeader(o, tt.r), e.m.Cookie(o, tt.r).String(); got != want {
					t.Errorf("action %d: CookieHeader = %q, Cookie().String() = %q", o.Action, got, want)
				}
			}
		})
	}
}

// TestPrefixedAndPartitionedSetCookie: the Set-Cookie header, exactly, of
// the __Host- and __Secure- names and of Partitioned, set and expired, on
// plain HTTP to localhost (where SecureAuto would leave Secure off).
func TestPrefixedAndPartitionedSetCookie(t *testing.T) {
	local := request("http://localhost:8080/", false)
	set := session.Outcome{Action: session.CookieSet, Token: "tok", MaxAge: time.Hour}
	expire := session.Outcome{Action: session.CookieExpire}
	tests := []struct {
		name        string
		cfg         func(*session.Config)
		set, expire string
	}{
		{"defaults", func(*session.Config) {},
			"sid=tok; Path=/; Max-Age=3600; HttpOnly; SameSite=Lax",
			"sid=; Path=/; Expires=Thu, 01 Jan 1970 00:00:01 GMT; Max-Age=0; HttpOnly; SameSite=Lax"},
		{"__Host-", func(c *session.Config) { c.CookieName = "__Host-sid" },
			"__Host-sid=tok; Path=/; Max-Age=3600; HttpOnly; Secure; SameSite=Lax",
			"__Host-sid=; Path=/; Expires=Thu, 01 Jan 1970 00:00:01 GMT; Max-Age=0; HttpOnly; Secure; SameSite=Lax"},
		{"__Secure- with a Domain and Path", func(c *session.Config) {
			c.CookieName, c.Cookie.Domain, c.Cookie.Path = "__Secure-sid", "example.com", "/app"
		},
			"__Secure-sid=tok; Path=/app; Domain=example.com; Max-Age=3600; HttpOnly; Secure; SameSite=Lax",
			"__Secure-sid=; Path=/app; Domain=example.com; Expires=Thu, 01 Jan 1970 00:00:01 GMT; Max-Age=0; HttpOnly; Secure; SameSite=Lax"},
		{"Partitioned, SameSite=None", func(c *session.Config) {
			c.Cookie.Partitioned, c.Cookie.SameSite, c.Cookie.Secure = true, http.SameSiteNoneMode, session.SecureAlways
		},
			"sid=tok; Path=/; Max-Age=3600; HttpOnly; Secure; SameSite=None; Partitioned",
			"sid=; Path=/; Expires=Thu, 01 Jan 1970 00:00:01 GMT; Max-Age=0; HttpOnly; Secure; SameSite=None; Partitioned"},
		{"__Host- and Partitioned, session only", func(c *session.Config) {
			c.CookieName, c.Cookie.Partitioned, c.Cookie.SessionOnly = "__Host-sid", true, true
		},
			"__Host-sid=tok; Path=/; HttpOnly; Secure; SameSite=Lax; Partitioned",
			"__Host-sid=; Path=/; Expires=Thu, 01 Jan 1970 00:00:01 GMT; Max-Age=0; HttpOnly; Secure; SameSite=Lax; Partitioned"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, tt.cfg)
			if got := e.m.CookieHeader(set, local); got != tt.set {
				t.Errorf("set:    %q\nwant    %q", got, tt.set)
			}
			if got := e.m.CookieHeader(expire, local); got != tt.expire {
				t.Errorf("expire: %q\nwant    %q", got, tt.expire)
			}
		})
	}
}

// TestCookieConfigValidate: the prefixes' and Partitioned's rules, each
// problem named by its field, and every problem listed.
func TestCookieConfigValidate(t *testing.T) {
	tests := []struct {
		name   string
		cookie string
		cfg    session.CookieConfig
		fields []string // the fields named, in order; none when valid
	}{
		{"defaults", "", session.CookieConfig{}, nil},
		{"__Host- with defaults", "__Host-sid", session.CookieConfig{}, nil},
		{"__Host- with Path / and Secure always", "__Host-sid", session.CookieConfig{Path: "/", Secure: session.SecureAlways}, nil},
		{"__Host- never secure", "__Host-sid", session.CookieConfig{Secure: session.SecureNever}, []string{"Cookie.Secure"}},
		{"__host- (any case) never secure", "__HOST-sid", session.CookieConfig{Secure: session.SecureNever}, []string{"Cookie.Secure"}},
		{"__Host- with a Path", "__Host-sid", session.CookieConfig{Path: "/app"}, []string{"Cookie.Path"}},
		{"__Host- with a Domain", "__Host-sid", session.CookieConfig{Domain: "example.com"}, []string{"Cookie.Domain"}},
		{"__Host- breaking all three", "__Host-sid", session.CookieConfig{Secure: session.SecureNever, Path: "/app", Domain: "example.com"},
			[]string{"Cookie.Secure", "Cookie.Path", "Cookie.Domain"}},
		{"__Secure- with Path and Domain", "__Secure-sid", session.CookieConfig{Path: "/app", Domain: "example.com"}, nil},
		{"__Secure- never secure", "__Secure-sid", session.CookieConfig{Secure: session.SecureNever}, []string{"Cookie.Secure"}},
		{"Partitioned", "", session.CookieConfig{Partitioned: true}, nil},
		{"Partitioned never secure", "", session.CookieConfig{Partitioned: true, Secure: session.SecureNever}, []string{"Cookie.Secure"}},
		{"SameSite=None auto", "", session.CookieConfig{SameSite: http.SameSiteNoneMode}, []string{"Cookie.SameSite"}},
		{"unknown mode and SameSite=None", "", session.CookieConfig{Secure: 7, SameSite: http.SameSiteNoneMode},
			[]string{"Cookie.Secure", "Cookie.SameSite"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate(tt.cookie)
			if got := fields(t, err); strings.Join(got, ",") != strings.Join(tt.fields, ",") {
				t.Fatalf("Validate(%q) names %q, want %q; error: %v", tt.cookie, got, tt.fields, err)
			}
		})
	}
}

// fields returns the Field of every *session.FieldError err joins, failing
// t if a joined error is not one or does not wrap ErrInvalidConfig.
func fields(t *testing.T, err error) []string {
	t.Helper()
	if err == nil {
		return nil
	}
	errs := []error{err}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	}
	var out []string
	for _, err := range errs {
		var fe *session.FieldError
		if !errors.As(err, &fe) || !errors.Is(err, session.ErrInvalidConfig) {
			t.Fatalf("%v: not a *FieldError wrapping ErrInvalidConfig", err)
		}
		if !strings.Contains(err.Error(), fe.Field) {
			t.Errorf("%q does not name its field %s", err, fe.Field)
		}
		out = append(out, fe.Field)
	}
	return out
}
