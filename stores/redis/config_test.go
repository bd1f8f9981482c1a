package redis

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
	if len(c.Addrs) != 1 || c.Addrs[0] != "127.0.0.1:6379" || c.Prefix != "sess:" ||
		c.Timeout != time.Second || c.DialTimeout != 2*time.Second || c.MaxSessionBytes != 1<<20 || c.Now == nil {
		t.Fatalf("DefaultConfig() = %+v", c)
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("DefaultConfig().Validate() = %v", err)
	}
	sentinel := Config{MasterName: "m"}
	sentinel.setDefaults()
	if sentinel.Addrs[0] != "127.0.0.1:26379" {
		t.Fatalf("default sentinel address %v; want 127.0.0.1:26379", sentinel.Addrs)
	}
}

func TestValidate(t *testing.T) {
	cases := []struct {
		cfg   Config
		field string // "" when valid
	}{
		{Config{}, ""},
		{Config{Addrs: []string{"a:1", "b:2"}}, ""},
		{Config{Addrs: []string{"localhost"}}, "Addrs"},
		{Config{Addrs: []string{"a:1", ""}}, "Addrs"},
		{Config{Addrs: []string{"a:"}}, "Addrs"},
		{Config{MasterName: "m", Cluster: true}, "Cluster"},
		{Config{DB: -1}, "DB"},
		{Config{DB: 2, Addrs: []string{"a:1", "b:2"}}, "DB"},
		{Config{DB: 2, Cluster: true}, "DB"},
		{Config{DB: 2, MasterName: "m", Addrs: []string{"a:1", "b:2"}}, ""},
		{Config{Prefix: strings.Repeat("p", 129)}, "Prefix"},
		{Config{Timeout: -1}, "Timeout"},
		{Config{DialTimeout: -1}, "DialTimeout"},
		{Config{PoolSize: -1}, "PoolSize"},
		{Config{Retries: -1}, "Retries"},
		{Config{MaxSessionBytes: -1}, "MaxSessionBytes"},
	}
	for _, c := range cases {
		err := c.cfg.Validate()
		switch {
		case c.field == "" && err != nil:
			t.Errorf("Validate(%+v) = %v; want nil", c.cfg, err)
		case c.field != "" && (!errors.Is(err, session.ErrInvalidConfig) || !strings.Contains(fmtErr(err), c.field)):
			t.Errorf("Validate(%+v) = %v; want ErrInvalidConfig naming %s", c.cfg, err, c.field)
		}
	}
}

func fmtErr(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// TestNewRefusesBadConfig: New reports a bad Config without connecting.
func TestNewRefusesBadConfig(t *testing.T) {
	if _, err := New(Config{Addrs: []string{"nohost"}}); !errors.Is(err, session.ErrInvalidConfig) {
		t.Fatalf("New with a bad address: %v; want ErrInvalidConfig", err)
	}
}

// TestBadPatch: patches that no Manager makes are refused with a clear error
// before any I/O (the Store is unconnected: no server was started).
func TestBadPatch(t *testing.T) {
	storetesting.WantBadPatchesRefused(t, &Store{cfg: DefaultConfig()})
}

// TestValidateListsEveryProblem: one error per bad field, all joined.
func TestValidateListsEveryProblem(t *testing.T) {
	err := (&Config{Addrs: []string{"nohost"}, MasterName: "m", Cluster: true, DB: -1,
		Prefix: strings.Repeat("p", 129), DialTimeout: -1, Timeout: -1, PoolSize: -1, Retries: -1, MaxSessionBytes: -1}).Validate()
	if !errors.Is(err, session.ErrInvalidConfig) {
		t.Fatalf("Validate() = %v; want ErrInvalidConfig", err)
	}
	for _, f := range []string{"Addrs", "Cluster", "DB", "Prefix", "DialTimeout", "Timeout", "PoolSize", "Retries", "MaxSessionBytes"} {
		if !strings.Contains(err.Error(), "invalid config: "+f+" ") {
			t.Errorf("Validate() does not name %s:\n%v", f, err)
		}
	}
}
