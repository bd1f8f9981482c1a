package session_test

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sessionmesh/sessionmesh/session"
)

func TestDefaultConfig(t *testing.T) {
	c := session.DefaultConfig(&spy{})
	if c.CookieName != "sid" || c.IdleTimeout != 14*24*time.Hour || c.TouchInterval != 0 ||
		c.Lifetime != 0 || c.Cookie.Path != "/" || c.Cookie.SameSite != http.SameSiteLaxMode ||
		c.Cookie.Secure != session.SecureAuto || c.Codec == nil || c.Logger != slog.Default() || c.Now == nil {
		t.Fatalf("DefaultConfig = %+v", c)
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("DefaultConfig().Validate() = %v", err)
	}
	// A shorter idle timeout set after DefaultConfig must still be valid,
	// and the touch interval follows it.
	c.IdleTimeout = time.Hour
	m, err := session.NewManager(c)
	if err != nil {
		t.Fatalf("DefaultConfig with IdleTimeout 1h: NewManager = %v", err)
	}
	if got := m.Config().TouchInterval; got != 6*time.Minute {
		t.Fatalf("TouchInterval = %v, want IdleTimeout/10 = 6m", got)
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name   string
		change func(*session.Config)
		field  string // "" when valid
	}{
		{"zero values are defaults", func(c *session.Config) { *c = session.Config{Store: c.Store} }, ""},
		{"no store", func(c *session.Config) { c.Store = nil }, "Store"},
		{"cookie name with ;", func(c *session.Config) { c.CookieName = "a;b" }, "CookieName"},
		{"cookie name too long", func(c *session.Config) { c.CookieName = strings.Repeat("a", 65) }, "CookieName"},
		{"negative idle", func(c *session.Config) { c.IdleTimeout = -1 }, "IdleTimeout"},
		{"negative lifetime", func(c *session.Config) { c.Lifetime = -1 }, "Lifetime"},
		{"touch as long as idle", func(c *session.Config) { c.TouchInterval = c.IdleTimeout }, "TouchInterval"},
		{"unknown secure mode", func(c *session.Config) { c.Cookie.Secure = 7 }, "Cookie.Secure"},
		{"SameSite=None without Secure", func(c *session.Config) { c.Cookie.SameSite = http.SameSiteNoneMode }, "Cookie.SameSite"},
		{"SameSite=None with Secure", func(c *session.Config) {
			c.Cookie.SameSite, c.Cookie.Secure = http.SameSiteNoneMode, session.SecureAlways
		}, ""},
		{"__Host- name with a Domain", func(c *session.Config) { c.CookieName, c.Cookie.Domain = "__Host-sid", "example.com" }, "Cookie.Domain"},
		{"Partitioned never secure", func(c *session.Config) { c.Cookie.Partitioned, c.Cookie.Secure = true, session.SecureNever }, "Cookie.Secure"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := session.DefaultConfig(&spy{})
			tt.change(&c)
			err := c.Validate()
			if _, mErr := session.NewManager(c); (mErr == nil) != (err == nil) {
				t.Errorf("NewManager and Validate disagree: %v vs %v", mErr, err)
			}
			if tt.field == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, session.ErrInvalidConfig) || !strings.Contains(err.Error(), tt.field) {
				t.Fatalf("Validate() = %v, want ErrInvalidConfig naming %s", err, tt.field)
			}
		})
	}
}

// TestConfigValidateListsEveryProblem: one error per field out of range,
// in the order of the fields, not only the first.
func TestConfigValidateListsEveryProblem(t *testing.T) {
	c := session.Config{
		CookieName:    "__Host-sid",
		IdleTimeout:   -1,
		Lifetime:      -time.Hour,
		TouchInterval: -1,
		Cookie:        session.CookieConfig{Path: "/app", Domain: "example.com", Secure: session.SecureNever, SameSite: http.SameSiteNoneMode},
	}
	err := c.Validate()
	want := []string{"Store", "IdleTimeout", "Lifetime", "TouchInterval", "Cookie.SameSite", "Cookie.Secure", "Cookie.Path", "Cookie.Domain"}
	if got := fields(t, err); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("Validate() names %q, want %q; error:\n%v", got, want, err)
	}
	if _, mErr := session.NewManager(c); mErr == nil || mErr.Error() != err.Error() {
		t.Errorf("NewManager = %v, want Validate's error", mErr)
	}
}

// TestValidCookieName is the one cookie-name rule: session.Config, the
// cookie store and the stores config all call it.
func TestValidCookieName(t *testing.T) {
	for name, want := range map[string]bool{
		"sid": true, "app_sid": true, "__Host-sid": true, "a!#$%&'*+-.^_`|~": true,
		strings.Repeat("a", 64): true, strings.Repeat("a", 65): false,
		"": false, "s id": false, "a;b": false, "a=b": false, "a,b": false, `a"b`: false,
		"a/b": false, `a\b`: false, "a\tb": false, "caf\u00e9": false, "a\x7fb": false,
	} {
		if got := session.ValidCookieName(name); got != want {
			t.Errorf("ValidCookieName(%q) = %v, want %v", name, got, want)
		}
	}
}

// TestSecureModeText: a config file writes SecureMode as auto, true or
// false (Geddy's words), JSON may use a boolean, and MarshalText writes what
// UnmarshalText reads.
func TestSecureModeText(t *testing.T) {
	tests := []struct {
		in   string // JSON
		want session.SecureMode
		ok   bool
	}{
		{`"auto"`, session.SecureAuto, true},
		{`""`, session.SecureAuto, true},
		{`"true"`, session.SecureAlways, true},
		{`true`, session.SecureAlways, true},
		{`"false"`, session.SecureNever, true},
		{`false`, session.SecureNever, true},
		{`"yes"`, 0, false},
		{`"always"`, 0, false},
		{`"True"`, 0, false},
		{`1`, 0, false},
		{`null`, 0, false},
	}
	for _, tt := range tests {
		var m session.SecureMode
		err := json.Unmarshal([]byte(tt.in), &m)
		if (err == nil) != tt.ok || m != tt.want {
			t.Errorf("Unmarshal(%s) = %v, %v; want %v, ok=%v", tt.in, m, err, tt.want, tt.ok)
		}
		if !tt.ok {
			continue
		}
		text, err := m.MarshalText()
		var again session.SecureMode
		if err != nil || again.UnmarshalText(text) != nil || again != m {
			t.Errorf("%v: MarshalText = %q, %v; does not read back", m, text, err)
		}
	}
	if _, err := session.SecureMode(7).MarshalText(); err == nil {
		t.Error("MarshalText of an unknown SecureMode succeeded")
	}
}

func TestManagerConfigHasDefaults(t *testing.T) {
	m, err := session.NewManager(session.Config{Store: &spy{}, IdleTimeout: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	c := m.Config()
	if c.CookieName != "sid" || c.TouchInterval != 6*time.Minute || c.Now == nil || c.Codec == nil {
		t.Fatalf("Manager.Config() = %+v, want defaults filled in (touch = idle/10)", c)
	}
}
