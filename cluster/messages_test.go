package cluster

import (
	"reflect"
	"testing"
	"time"

	"github.com/sessionmesh/sessionmesh/session"
)

func samplePatch() session.Patch {
	return session.Patch{
		NewID: session.NewID(), Clear: true,
		Set:    map[string][]byte{"a": []byte(`1`), "": nil, "long": make([]byte, 300)},
		Delete: []string{"x", "y"},
		Now:    time.Unix(1700000000, 123), Idle: time.Hour, Lifetime: 2 * time.Hour,
	}
}

func TestRoutedRoundTrip(t *testing.T) {
	now := time.Unix(1700000000, 5)
	rec := session.Record{ID: session.NewID(), Values: map[string][]byte{"k": []byte(`"v"`)}, Created: now, Touched: now, Idle: now.Add(time.Hour), Version: 9}
	for _, tc := range []struct {
		op  uint8
		req routed
	}{
		{opLoad, routed{header: header{flags: flagFailover, print: 1 << 60}, id: session.NewID()}},
		{opSave, routed{header: header{flags: flagRedirected}, id: session.NewID(), patch: samplePatch()}},
		{opInstall, routed{id: rec.ID, rec: rec}},
	} {
		got, err := parseRouted(tc.op, tc.req.marshal(tc.op))
		if err != nil {
			t.Fatalf("op %d: %v", tc.op, err)
		}
		if tc.op == opSave { // the empty value decodes as an empty, non-nil slice
			tc.req.patch.Set[""] = []byte{}
		}
		if !reflect.DeepEqual(got, tc.req) {
			t.Fatalf("op %d: round trip\n got %+v\nwant %+v", tc.op, got, tc.req)
		}
	}
}

func TestPutAndFoundRoundTrip(t *testing.T) {
	rec := session.Record{ID: session.NewID(), Idle: time.Unix(1800000000, 0), Version: 3}
	got, err := parsePut((&putReq{hint: "node1-abc", rec: rec}).marshal())
	if err != nil || got.hint != "node1-abc" || !reflect.DeepEqual(got.rec, rec) {
		t.Fatalf("put round trip: %+v, %v", got, err)
	}
	if r, found, err := parseFound(marshalFound(rec, true)); err != nil || !found || !reflect.DeepEqual(r, rec) {
		t.Fatalf("found round trip: %+v %v %v", r, found, err)
	}
	if _, found, err := parseFound(marshalFound(session.Record{}, false)); err != nil || found {
		t.Fatalf("not-found round trip: %v %v", found, err)
	}
}

// Messages come from the network: any bytes must decode or fail with
// ErrBadMessage, never panic or allocate beyond the input.
func FuzzParseMessages(f *testing.F) {
	f.Add(opSave, (&routed{id: "x", patch: samplePatch()}).marshal(opSave))
	f.Add(opPut, (&putReq{hint: "h", rec: session.Record{ID: "i", Version: 1}}).marshal())
	f.Add(opLoad, []byte{0, 0, 200, 200, 200, 200, 1})
	f.Fuzz(func(t *testing.T, op uint8, b []byte) {
		switch op % 3 {
		case 0:
			parseRouted(opSave, b)
		case 1:
			parsePut(b)
		case 2:
			parseFound(b)
		}
		parseRouted(opInstall, b)
	})
}
