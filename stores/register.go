package stores

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/sessionmesh/sessionmesh/session"
)

// An Opener builds a store from the sessions block: Open calls it for a
// config whose store is the name it was registered under, after the
// block's own checks passed. It reads its own settings with
// cfg.DecodeOptions and returns an error naming what is wrong with them.
// A store that holds resources implements io.Closer (Close calls it).
type Opener func(cfg Config) (session.Store, error)

// ErrRegister is wrapped by Register's errors.
var ErrRegister = errors.New("stores: register")

var registry struct {
	sync.Mutex
	openers map[string]Opener
}

// Register adds a store written outside this module, so that a config
// selects it by name (store: NAME) like a built-in one. Call it before
// Load or Open, typically from the store package's init or main. It
// refuses an empty name, a built-in store's name, a name registered
// already and a nil Opener. A store worth registering passes
// storetest.Run, the contract every built-in store is tested with.
func Register(name string, open Opener) error {
	switch {
	case name == "":
		return fmt.Errorf("%w: the name is empty", ErrRegister)
	case builtin(name):
		return fmt.Errorf("%w: %q is a built-in store", ErrRegister, name)
	case open == nil:
		return fmt.Errorf("%w: %q: the Opener is nil", ErrRegister, name)
	}
	registry.Lock()
	defer registry.Unlock()
	if _, dup := registry.openers[name]; dup {
		return fmt.Errorf("%w: %q is registered already", ErrRegister, name)
	}
	if registry.openers == nil {
		registry.openers = make(map[string]Opener)
	}
	registry.openers[name] = open
	return nil
}

// opener returns the Opener registered under name.
func opener(name string) (Opener, bool) {
	registry.Lock()
	defer registry.Unlock()
	open, ok := registry.openers[name]
	return open, ok
}

// builtins are the stores of this module, in the order errors list them.
var builtins = []string{Memory, Cookie, Memcache, Redis}

func builtin(name string) bool { return slices.Contains(builtins, name) }

// storeNames returns the built-in stores' names, then the registered
// ones, sorted.
func storeNames() []string {
	registry.Lock()
	defer registry.Unlock()
	var added []string
	for name := range registry.openers {
		added = append(added, name)
	}
	slices.Sort(added)
	return append(slices.Clone(builtins), added...)
}

// DecodeOptions decodes the options block into v, a pointer to the
// registered store's settings struct (with json tags, which YAML and JSON
// files share here): an option v has no field for is an error naming it,
// so a typo does not pass silently.
func (c *Config) DecodeOptions(v any) error {
	data, err := json.Marshal(c.Options)
	if err != nil {
		return fmt.Errorf("stores: sessions.options: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("stores: %w: sessions.options: %v", session.ErrInvalidConfig, err)
	}
	return nil
}
