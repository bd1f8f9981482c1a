package stores_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sessionmesh/sessionmesh/session"
	"github.com/sessionmesh/sessionmesh/stores"
	"github.com/sessionmesh/sessionmesh/stores/memory"
	"github.com/sessionmesh/sessionmesh/stores/storetest"
)

// tinyStore is a store "written by someone else": the memory store under
// a name of its own, with settings of its own read from sessions.options.
type tinyStore struct{ *memory.Store }

type tinyOptions struct {
	MaxSessions int    `json:"maxSessions"`
	Password    string `json:"password"`
}

// registered records the clock the next open should use: storetest.Run
// gives each of its tests one, and the store must follow it.
var tinyClock func() time.Time

func openTiny(cfg stores.Config) (session.Store, error) {
	var o tinyOptions
	if err := cfg.DecodeOptions(&o); err != nil {
		return nil, err
	}
	if o.MaxSessions <= 0 {
		return nil, fmt.Errorf("tiny: options.maxSessions is %d; want a positive number", o.MaxSessions)
	}
	mc := memory.DefaultConfig()
	mc.MaxSessions, mc.Now = o.MaxSessions, tinyClock
	st, err := memory.New(mc)
	if err != nil {
		return nil, err
	}
	return tinyStore{st}, nil
}

func init() {
	if err := stores.Register("tiny", openTiny); err != nil {
		panic(err) // a test set-up bug
	}
}

func writeConfig(t *testing.T, yaml string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// A registered store is selected by name in YAML, gets its options, and
// passes the same conformance suite as the built-in stores.
func TestRegisteredStorePassesTheContract(t *testing.T) {
	path := writeConfig(t, "sessions:\n  store: tiny\n  options:\n    maxSessions: 1000\n    password: hunter2\n")
	storetest.Run(t, func(t *testing.T, now func() time.Time) session.Store {
		cfg, err := stores.Load(path)
		if err != nil {
			t.Fatal(err)
		}
		tinyClock = now
		st, err := stores.Open(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := st.(tinyStore); !ok {
			t.Fatalf("store: tiny opened a %T", st)
		}
		t.Cleanup(func() { stores.Close(st) })
		return st
	})
}

func TestRegisteredStoreErrors(t *testing.T) {
	load := func(yaml string) stores.Config {
		cfg, err := stores.Load(writeConfig(t, yaml))
		if err != nil {
			t.Fatal(err)
		}
		return cfg
	}
	cases := []struct {
		name, yaml, want string
	}{
		{"unknown store lists the registered", "sessions:\n  store: dynamo\n", `sessions.store is "dynamo"; allowed: memory, cookie, memcache, redis, tiny`},
		{"options for a built-in store", "sessions:\n  store: redis\n  options: {table: x}\n", "sessions.options is set, but store redis takes no options"},
		{"an option the store does not know", "sessions:\n  store: tiny\n  options: {maxSesions: 5}\n", `sessions.options: json: unknown field "maxSesions"`},
		{"the store's own rule", "sessions:\n  store: tiny\n  options: {maxSessions: 0}\n", "open tiny store: tiny: options.maxSessions is 0"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := stores.Open(load(c.yaml))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Open = %v; want an error containing %q", err, c.want)
			}
		})
	}
	if got := fmt.Sprint(load("sessions:\n  store: tiny\n  options: {maxSessions: 5, password: hunter2}\n")); strings.Contains(got, "hunter2") || !strings.Contains(got, "password") {
		t.Errorf("printed config %s: want the option names without their values", got)
	}
}

func TestRegisterRefuses(t *testing.T) {
	for _, c := range []struct {
		name string
		open stores.Opener
	}{{"", openTiny}, {"redis", openTiny}, {"tiny", openTiny}, {"other", nil}} {
		if err := stores.Register(c.name, c.open); !errors.Is(err, stores.ErrRegister) {
			t.Errorf("Register(%q) = %v; want ErrRegister", c.name, err)
		}
	}
}
