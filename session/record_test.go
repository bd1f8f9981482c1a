package session_test

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/sessionmesh/sessionmesh/session"
)

var t0 = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)

func TestRecordDeadline(t *testing.T) {
	tests := []struct {
		name          string
		idle, expires time.Time
		want          time.Time
	}{
		{"idle only", t0.Add(time.Hour), time.Time{}, t0.Add(time.Hour)},
		{"lifetime first", t0.Add(time.Hour), t0.Add(time.Minute), t0.Add(time.Minute)},
		{"idle first", t0.Add(time.Minute), t0.Add(time.Hour), t0.Add(time.Minute)},
	}
	for _, tt := range tests {
		r := session.Record{Idle: tt.idle, Expires: tt.expires}
		if got := r.Deadline(); !got.Equal(tt.want) {
			t.Errorf("%s: Deadline() = %v, want %v", tt.name, got, tt.want)
		}
		if r.Expired(tt.want.Add(-time.Nanosecond)) || !r.Expired(tt.want) {
			t.Errorf("%s: Expired must turn true exactly at the deadline", tt.name)
		}
	}
}

func TestPatchApply(t *testing.T) {
	var r session.Record
	p := session.Patch{NewID: "id1", Set: map[string][]byte{"a": []byte("1"), "c": []byte("3")}, Now: t0, Idle: time.Hour, Lifetime: 24 * time.Hour}
	p.Apply(&r)
	want := session.Record{ID: "id1", Values: map[string][]byte{"a": []byte("1"), "c": []byte("3")},
		Created: t0, Touched: t0, Idle: t0.Add(time.Hour), Expires: t0.Add(24 * time.Hour), Version: 1}
	if !reflect.DeepEqual(r, want) {
		t.Fatalf("new session: %+v, want %+v", r, want)
	}
	later := t0.Add(time.Minute)
	p = session.Patch{Set: map[string][]byte{"b": []byte("2")}, Delete: []string{"c"}, Now: later, Idle: time.Hour, Lifetime: time.Minute}
	p.Apply(&r)
	if r.Keys()[0] != "a" || len(r.Values) != 2 || r.Version != 2 || !r.Created.Equal(t0) ||
		!r.Expires.Equal(t0.Add(24*time.Hour)) || !r.Idle.Equal(later.Add(time.Hour)) {
		t.Fatalf("merge: %+v; want a and b, version 2, created and lifetime kept, idle slid", r)
	}
	p = session.Patch{Clear: true, Set: map[string][]byte{"z": nil}, NewID: "id2", Now: later, Idle: time.Hour}
	p.Apply(&r)
	if r.ID != "id2" || !reflect.DeepEqual(r.Keys(), []string{"z"}) {
		t.Fatalf("clear+renew: %+v", r)
	}
	p = session.Patch{Now: later, Idle: time.Hour, Expires: t0.Add(90 * 24 * time.Hour)}
	p.Apply(&r)
	if !r.Expires.Equal(t0.Add(90*24*time.Hour)) || !r.Created.Equal(t0) {
		t.Fatalf("Expires on an existing session: %+v; want Expires moved to 90 days after t0, Created kept", r)
	}
	var fresh session.Record
	p = session.Patch{NewID: "id3", Now: t0, Idle: time.Hour, Lifetime: time.Hour, Expires: t0.Add(48 * time.Hour)}
	p.Apply(&fresh)
	if !fresh.Expires.Equal(t0.Add(48 * time.Hour)) {
		t.Fatalf("Expires on a new session: %v; want it to win over Lifetime (%v)", fresh.Expires, t0.Add(48*time.Hour))
	}
}

func TestPatchIsTouch(t *testing.T) {
	if !(&session.Patch{Now: t0, Idle: time.Hour}).IsTouch() {
		t.Error("an empty patch is a touch")
	}
	for _, p := range []session.Patch{{NewID: "x"}, {Clear: true}, {Set: map[string][]byte{"a": nil}}, {Delete: []string{"a"}}, {Expires: t0}} {
		if p.IsTouch() {
			t.Errorf("%+v is not a touch", p)
		}
	}
}

func TestRecordCloneIsDeep(t *testing.T) {
	r := session.Record{ID: "x", Values: map[string][]byte{"a": []byte("1")}}
	c := r.Clone()
	c.Values["a"][0] = '9'
	c.Values["b"] = nil
	if string(r.Values["a"]) != "1" || len(r.Values) != 1 {
		t.Fatal("changing a clone changed the original")
	}
}

func TestRecordBinaryRoundTrip(t *testing.T) {
	for _, r := range []session.Record{
		{},
		{ID: session.NewID(), Created: t0, Touched: t0.Add(time.Second), Idle: t0.Add(time.Hour), Version: 7},
		{ID: "x", Values: map[string][]byte{"a": []byte(`"é"`), "": nil, strings.Repeat("k", 300): []byte("1")},
			Created: t0, Touched: t0, Idle: t0.Add(time.Hour), Expires: t0.Add(2 * time.Hour), Version: 1 << 40},
	} {
		b, err := r.MarshalBinary()
		if err != nil || len(b) > r.Size() {
			t.Fatalf("MarshalBinary: %d bytes, err %v; Size() promised at most %d", len(b), err, r.Size())
		}
		var got session.Record
		if err := got.UnmarshalBinary(b); err != nil {
			t.Fatalf("UnmarshalBinary: %v", err)
		}
		if !sameRecord(got, r) {
			t.Fatalf("round trip: %+v, want %+v", got, r)
		}
	}
}

func TestRecordUnmarshalRejectsCorruption(t *testing.T) {
	r := session.Record{ID: "x", Values: map[string][]byte{"a": []byte("1")}, Idle: t0}
	good, _ := r.MarshalBinary()
	for name, b := range map[string][]byte{
		"empty":        nil,
		"wrong format": append([]byte{99}, good[1:]...),
		"truncated":    good[:len(good)-1],
		"trailing":     append(append([]byte{}, good...), 0),
	} {
		var got session.Record
		if err := got.UnmarshalBinary(b); err == nil {
			t.Errorf("%s: UnmarshalBinary accepted corrupt bytes", name)
		}
	}
}

// sameRecord compares records by instant, not by time.Time representation.
func sameRecord(a, b session.Record) bool {
	if len(a.Values) != len(b.Values) {
		return false
	}
	for k, v := range a.Values {
		if w, ok := b.Values[k]; !ok || string(v) != string(w) {
			return false
		}
	}
	return a.ID == b.ID && a.Version == b.Version && a.Created.Equal(b.Created) && a.Touched.Equal(b.Touched) &&
		a.Idle.Equal(b.Idle) && a.Expires.Equal(b.Expires)
}
