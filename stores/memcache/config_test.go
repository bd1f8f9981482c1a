package memcache

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/sessionmesh/sessionmesh/session"
	"github.com/sessionmesh/sessionmesh/stores/internal/storetesting"
)

func TestDefaultConfig(t *testing.T) {
	c := DefaultConfig()
	if len(c.Servers) != 1 || c.Servers[0] != "127.0.0.1:11211" || c.Prefix != "sess:" || c.Timeout != time.Second ||
		c.MaxIdleConns != 32 || c.CASRetries != 10 || c.MaxSessionBytes != 1<<20 || c.Now == nil {
		t.Fatalf("DefaultConfig() = %+v", c)
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("DefaultConfig().Validate() = %v", err)
	}
}

func TestValidate(t *testing.T) {
	cases := []struct {
		cfg   Config
		field string // "" when valid
	}{
		{Config{}, ""},
		{Config{Servers: []string{"a:1", "/run/memcached.sock"}}, ""},
		{Config{Servers: []string{"localhost"}}, "Servers"},
		{Config{Servers: []string{""}}, "Servers"},
		{Config{Servers: []string{"a:1", "b:1", "a:1"}}, "Servers"},
		{Config{Prefix: "app:sess:"}, ""},
		{Config{Prefix: "has space"}, "Prefix"},
		{Config{Prefix: "tab\t"}, "Prefix"},
		{Config{Prefix: "nl\n"}, "Prefix"},
		{Config{Prefix: "del\x7f"}, "Prefix"},
		{Config{Prefix: "é"}, "Prefix"},
		{Config{Prefix: strings.Repeat("p", 250-session.IDLen)}, ""},
		{Config{Prefix: strings.Repeat("p", 251-session.IDLen)}, "Prefix"},
		{Config{Timeout: -1}, "Timeout"},
		{Config{MaxIdleConns: -1}, "MaxIdleConns"},
		{Config{CASRetries: -1}, "CASRetries"},
		{Config{MaxSessionBytes: -1}, "MaxSessionBytes"},
	}
	for _, c := range cases {
		err := c.cfg.Validate()
		switch {
		case c.field == "" && err != nil:
			t.Errorf("Validate(%+v) = %v; want nil", c.cfg, err)
		case c.field != "" && (!errors.Is(err, session.ErrInvalidConfig) || !strings.Contains(err.Error(), c.field)):
			t.Errorf("Validate(%+v) = %v; want ErrInvalidConfig naming %s", c.cfg, err, c.field)
		}
	}
}

// TestKeysFromTokens: every token that reaches the server forms a valid,
// distinct key; everything else is refused before any I/O.
func TestKeysFromTokens(t *testing.T) {
	s := &Store{cfg: DefaultConfig()}
	seen := make(map[string]bool)
	for range 1000 {
		id := session.NewID()
		k := s.key(id)
		if !validKey(k) || seen[k] {
			t.Fatalf("key %q for ID %q is invalid or repeated", k, id)
		}
		seen[k] = true
	}
	for _, bad := range []string{"", "a b", "x\r\nflush_all", strings.Repeat("A", 300), strings.Repeat("A", session.IDLen-1) + " "} {
		if _, found, err := s.Load(t.Context(), bad); found || err != nil {
			t.Errorf("Load(%q) = %t, %v; want not found without I/O", bad, found, err)
		}
	}
}

// TestBadPatch: patches that no Manager makes are refused with a clear error
// before any I/O (the Store is unconnected: no server was started).
func TestBadPatch(t *testing.T) {
	storetesting.WantBadPatchesRefused(t, &Store{cfg: DefaultConfig()})
}

// TestValidateListsEveryProblem: one error per bad field, all joined.
func TestValidateListsEveryProblem(t *testing.T) {
	err := (&Config{Servers: []string{"nohost"}, Prefix: "a b", Timeout: -1, MaxIdleConns: -1, CASRetries: -1, MaxSessionBytes: -1}).Validate()
	if !errors.Is(err, session.ErrInvalidConfig) {
		t.Fatalf("Validate() = %v; want ErrInvalidConfig", err)
	}
	for _, f := range []string{"Servers", "Prefix", "Timeout", "MaxIdleConns", "CASRetries", "MaxSessionBytes"} {
		if !strings.Contains(err.Error(), "invalid config: "+f+" ") {
			t.Errorf("Validate() does not name %s:\n%v", f, err)
		}
	}
}
