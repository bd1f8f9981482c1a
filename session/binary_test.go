package session_test

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sessionmesh/sessionmesh/session"
)

// applyBoth applies p to src twice: through the Record (UnmarshalBinary,
// Apply, AppendBinary) and with ApplyBinary. They must agree byte for byte.
func applyBoth(t *testing.T, src []byte, p session.Patch) []byte {
	t.Helper()
	var rec session.Record
	if len(src) > 0 {
		if err := rec.UnmarshalBinary(src); err != nil {
			t.Fatalf("UnmarshalBinary(src): %v", err)
		}
	}
	p.Apply(&rec)
	want := rec.AppendBinary(nil)
	got, head, err := p.ApplyBinary([]byte("prefix"), src)
	if err != nil {
		t.Fatalf("ApplyBinary: %v", err)
	}
	if !bytes.Equal(got, append([]byte("prefix"), want...)) {
		t.Fatalf("ApplyBinary gave\n%q\nApply+AppendBinary give\n%q", got, want)
	}
	rec.Values, head.Values = nil, nil
	if !sameRecord(head, rec) {
		t.Fatalf("ApplyBinary returned the header %+v; Apply gives %+v", head, rec)
	}
	return want
}

func TestApplyBinaryMatchesApply(t *testing.T) {
	typical := typicalRecord()
	src, _ := typical.MarshalBinary()
	later := t0.Add(time.Minute)
	for name, p := range map[string]session.Patch{
		"new session":     {NewID: "id", Set: map[string][]byte{"b": []byte("1"), "a": nil}, Now: t0, Idle: time.Hour, Lifetime: time.Hour},
		"touch":           {Now: later, Idle: time.Hour},
		"set existing":    {Set: map[string][]byte{"counter": []byte("42")}, Now: later, Idle: time.Hour},
		"set first":       {Set: map[string][]byte{"a": []byte("1")}, Now: later, Idle: time.Hour},
		"set last":        {Set: map[string][]byte{"zz": []byte("1")}, Now: later, Idle: time.Hour},
		"set between":     {Set: map[string][]byte{"d": []byte(`"x"`), "g": []byte(`"y"`)}, Now: later, Idle: time.Hour},
		"delete":          {Delete: []string{"csrf", "missing", "user"}, Now: later, Idle: time.Hour},
		"delete then set": {Delete: []string{"flash"}, Set: map[string][]byte{"flash": []byte(`"again"`)}, Now: later, Idle: time.Hour},
		"delete all":      {Delete: []string{"csrf", "user", "counter", "flash"}, Now: later, Idle: time.Hour},
		"clear and set":   {Clear: true, Set: map[string][]byte{"x": []byte("1")}, Now: later, Idle: time.Hour},
		"renew":           {NewID: "renewed", Now: later, Idle: 2 * time.Hour, Lifetime: time.Hour},
		"new lifetime":    {Set: map[string][]byte{"x": nil}, Now: later, Idle: 2 * time.Hour, Expires: t0.Add(48 * time.Hour)},
	} {
		t.Run(name, func(t *testing.T) {
			if name == "new session" {
				applyBoth(t, nil, p)
				return
			}
			applyBoth(t, src, p)
		})
	}
}

// A patch applied in binary form twice in a row gives what two Applies give.
func TestApplyBinaryChains(t *testing.T) {
	b := applyBoth(t, nil, session.Patch{NewID: "id", Set: map[string][]byte{"n": []byte("1")}, Now: t0, Idle: time.Hour})
	for i := range 20 {
		key := strings.Repeat("k", i%5+1)
		b = applyBoth(t, b, session.Patch{Set: map[string][]byte{key: []byte{byte('a' + i)}}, Delete: []string{"n"}, Now: t0, Idle: time.Hour})
	}
	var rec session.Record
	if err := rec.UnmarshalBinary(b); err != nil || rec.Version != 21 || len(rec.Values) != 5 {
		t.Fatalf("after 21 patches: %+v, %v; want version 21 and keys k..kkkkk", rec, err)
	}
}

// A patch whose Now is earlier than the record's last write (two workers
// wrote at once, and the one with the earlier clock reached the store
// second) leaves Touched where it was: a later version is never touched
// earlier, in either form. The idle timeout still counts from the
// patch's Now, so a clock ahead cannot lengthen it for later writes.
func TestTouchedNeverGoesBack(t *testing.T) {
	b := applyBoth(t, nil, session.Patch{NewID: "id", Now: t0.Add(time.Second), Idle: time.Hour})
	b = applyBoth(t, b, session.Patch{Set: map[string][]byte{"n": []byte("2")}, Now: t0, Idle: 2 * time.Hour})
	var rec session.Record
	if err := rec.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	if want := t0.Add(time.Second); !rec.Touched.Equal(want) || !rec.Idle.Equal(t0.Add(2*time.Hour)) || rec.Version != 2 {
		t.Fatalf("after a patch dated before the last write: touched %v, idle %v, version %d; want touched %v, idle %v, version 2", rec.Touched, rec.Idle, rec.Version, want, t0.Add(2*time.Hour))
	}
}

func TestApplyBinaryRejectsCorruption(t *testing.T) {
	rec := session.Record{ID: "x", Values: map[string][]byte{"a": []byte("1"), "b": []byte("2")}, Idle: t0}
	good, _ := rec.MarshalBinary()
	// Swap the two pairs, which AppendBinary writes in key order.
	pairs := good[len(good)-8:]
	swapped := append(append(append([]byte{}, good[:len(good)-8]...), pairs[4:]...), pairs[:4]...)
	p := session.Patch{Set: map[string][]byte{"c": []byte("3")}, Now: t0, Idle: time.Hour}
	for name, src := range map[string][]byte{
		"wrong format": append([]byte{99}, good[1:]...),
		"truncated":    good[:len(good)-1],
		"trailing":     append(append([]byte{}, good...), 0),
		"out of order": swapped,
	} {
		out, _, err := p.ApplyBinary([]byte("dst"), src)
		if err == nil || string(out) != "dst" {
			t.Errorf("%s: ApplyBinary = %q, %v; want an error and dst unchanged", name, out, err)
		}
	}
}

func TestUnmarshalHeader(t *testing.T) {
	rec := typicalRecord()
	rec.Expires = t0.Add(time.Minute)
	b, _ := rec.MarshalBinary()
	var h session.Record
	if err := h.UnmarshalHeader(b); err != nil {
		t.Fatal(err)
	}
	rec.Values = nil
	if !sameRecord(h, rec) || h.Values != nil {
		t.Fatalf("UnmarshalHeader = %+v; want %+v without values", h, rec)
	}
	if err := h.UnmarshalHeader(b[:5]); err == nil {
		t.Fatal("UnmarshalHeader accepted a truncated header")
	}
}

// Values of a decoded record share one buffer, so appending to one of them
// must not overwrite the next.
func TestUnmarshalValuesAreCapped(t *testing.T) {
	rec := session.Record{Values: map[string][]byte{"a": []byte("1"), "b": []byte("2")}}
	b, _ := rec.MarshalBinary()
	var got session.Record
	if err := got.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	_ = append(got.Values["a"], "xxxxxxxx"...)
	if string(got.Values["b"]) != "2" {
		t.Fatalf("appending to value a changed value b to %q", got.Values["b"])
	}
	b[len(b)-1] = '9'
	if string(got.Values["b"]) != "2" {
		t.Fatal("a decoded value aliases the input bytes")
	}
}

// FuzzApplyBinary checks ApplyBinary against Apply for any record that
// decodes and a patch built from the fuzzer's strings.
func FuzzApplyBinary(f *testing.F) {
	typical := typicalRecord()
	b, _ := typical.MarshalBinary()
	f.Add(b, "counter", "42", "csrf", false)
	f.Add(b, "a", "", "zzz", true)
	f.Add([]byte{}, "k", "v", "", false)
	f.Fuzz(func(t *testing.T, src []byte, setKey, setValue, delKey string, clear bool) {
		var rec session.Record
		if len(src) > 0 {
			if rec.UnmarshalBinary(src) != nil {
				return
			}
			src = rec.AppendBinary(nil) // canonical: keys in order, no duplicates
		}
		p := session.Patch{Clear: clear, Set: map[string][]byte{setKey: []byte(setValue)}, Delete: []string{delKey},
			Now: t0, Idle: time.Hour}
		applyBoth(t, src, p)
	})
}

// A pair count of 128 or more takes two bytes: around that boundary the
// bytes still match Apply's.
func TestApplyBinaryManyKeys(t *testing.T) {
	many := func(n int) map[string][]byte {
		set := map[string][]byte{}
		for i := range n {
			set[fmt.Sprintf("k%03d", i)] = []byte(fmt.Sprint(i))
		}
		return set
	}
	for _, n := range []int{127, 128, 129, 300} {
		b := applyBoth(t, nil, session.Patch{NewID: "id", Set: many(n), Now: t0, Idle: time.Hour})
		applyBoth(t, b, session.Patch{Set: map[string][]byte{"zz": nil}, Now: t0, Idle: time.Hour})
		applyBoth(t, b, session.Patch{Delete: []string{"k000", "k001"}, Now: t0, Idle: time.Hour})
	}
}
