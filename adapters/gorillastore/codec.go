package gorillastore

import (
	"bytes"
	"encoding/gob"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"

	"github.com/sessionmesh/sessionmesh/session"
)

// boxed is what one value is gob-encoded as: a struct whose interface field
// carries the value's type name, so it decodes back to the same type.
type boxed struct{ V any }

func encode(v any) ([]byte, error) {
	var b bytes.Buffer
	if err := gob.NewEncoder(&b).Encode(boxed{v}); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

func decode(data []byte) (any, error) {
	var b boxed
	err := gob.NewDecoder(bytes.NewReader(data)).Decode(&b)
	return b.V, err
}

// decodeValues decodes stored into vals and returns the stored values it
// decoded, the ones Save diffs against. A value that does not decode is
// left out of both and named in the error, so Save neither deletes nor
// rewrites it unless the request sets its key.
func decodeValues(vals map[any]any, stored map[string][]byte) (map[string][]byte, error) {
	ok := make(map[string][]byte, len(stored))
	var bad []string
	var errs []error
	for k, data := range stored {
		v, err := decode(data)
		if err != nil {
			bad = append(bad, k)
			errs = append(errs, fmt.Errorf("%q: %w", k, err))
			continue
		}
		vals[k], ok[k] = v, data
	}
	if bad == nil {
		return ok, nil
	}
	slices.Sort(bad)
	return ok, fmt.Errorf("the values of %q do not decode and were left out (they stay stored): %w", bad, errors.Join(errs...))
}

// diff returns the patch that turns the loaded values into vals (Set and
// Delete only) and vals encoded, to diff the next Save against. It checks
// every key and encodes every value before it returns, so a bad one fails
// the Save before anything is written.
func diff(vals map[any]any, loaded map[string][]byte) (session.Patch, map[string][]byte, error) {
	var p session.Patch
	enc := make(map[string][]byte, len(vals))
	for k, v := range vals {
		key, err := checkKey(k)
		if err != nil {
			return p, nil, err
		}
		data, err := encode(v)
		if err != nil {
			return p, nil, fmt.Errorf("value of key %q (a %T) cannot be encoded with gob (does its type need gob.Register?): %w", key, v, err)
		}
		enc[key] = data
		if old, ok := loaded[key]; !ok || !same(old, data, v) {
			if p.Set == nil {
				p.Set = make(map[string][]byte)
			}
			p.Set[key] = data
		}
	}
	for k := range loaded {
		if _, ok := enc[k]; !ok {
			p.Delete = append(p.Delete, k)
		}
	}
	return p, enc, nil
}

// same reports whether the value v, encoded as data, is the value the store
// holds as old. Equal bytes say so at once; gob writes a map's entries in
// random order, so different bytes are compared as decoded values.
func same(old, data []byte, v any) bool {
	if bytes.Equal(old, data) {
		return true
	}
	ov, err := decode(old)
	return err == nil && reflect.DeepEqual(ov, v)
}

// checkKey returns k as a string key the store accepts, or an error naming it.
func checkKey(k any) (string, error) {
	key, ok := k.(string)
	switch {
	case !ok:
		return "", fmt.Errorf("key %#v is a %T; only string keys are supported", k, k)
	case key == "" || len(key) > session.MaxKeyLen:
		return "", fmt.Errorf("key %q: want 1 to %d bytes", key, session.MaxKeyLen)
	case strings.HasPrefix(key, "\x00"):
		return "", fmt.Errorf("key %q starts with a NUL byte, which sessionmesh reserves", key)
	}
	return key, nil
}
