package session_test

import (
	"bytes"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/sessionmesh/sessionmesh/session"
)

// FuzzValidID checks ValidID against its definition: exactly the canonical
// unpadded base64url spelling of 32 bytes. Anything else (a hostile cookie)
// is refused before a store sees it.
func FuzzValidID(f *testing.F) {
	valid := strings.Repeat("A", session.IDLen)
	for _, seed := range []string{
		valid, "_" + valid[1:], valid[:session.IDLen-1] + "B", valid[:session.IDLen-1] + "w",
		valid[:session.IDLen-1], valid + "A", valid[:20] + "+" + valid[21:], valid[:20] + "\n" + valid[21:],
		valid[:session.IDLen-1] + "=", "", strings.Repeat("é", 22),
		"OTZkNzQ5ZjEtNGQ2Yi00YjYxLWI2NGQtZmE0Y2E3Nw",
	} {
		f.Add(seed)
	}
	strict := base64.RawURLEncoding.Strict()
	f.Fuzz(func(t *testing.T, s string) {
		b, err := strict.DecodeString(s)
		want := len(s) == session.IDLen && err == nil && len(b) == session.IDBytes &&
			strict.EncodeToString(b) == s // the decoder skips newlines; an ID has none
		if got := session.ValidID(s); got != want {
			t.Fatalf("ValidID(%q) = %t; want %t", s, got, want)
		}
	})
}

// FuzzRecordUnmarshal feeds arbitrary bytes to Record.UnmarshalBinary, which
// reads what memcache, the cookie store and cluster peers hand back. No input
// may panic; whatever decodes must re-encode to a canonical form that decodes
// to the same record and re-encodes to the same bytes.
func FuzzRecordUnmarshal(f *testing.F) {
	t0 := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, r := range []session.Record{
		{},
		{ID: session.NewID(), Created: t0, Touched: t0, Idle: t0.Add(time.Hour), Version: 7},
		{ID: "x", Values: map[string][]byte{"a": []byte(`"é"`), "": nil, "counter": []byte("41")},
			Created: t0, Touched: t0, Idle: t0.Add(time.Hour), Expires: t0.Add(2 * time.Hour), Version: 1 << 40},
	} {
		b, _ := r.MarshalBinary()
		f.Add(b)
		f.Add(b[:len(b)/2])
		f.Add(append(b, 0))
	}
	f.Add([]byte{})
	f.Add([]byte{1})
	f.Add([]byte{1, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f}) // many values, no bytes
	f.Fuzz(func(t *testing.T, data []byte) {
		var rec session.Record
		if err := rec.UnmarshalBinary(data); err != nil {
			return
		}
		canon, _ := rec.MarshalBinary()
		if len(canon) > rec.Size() {
			t.Fatalf("encoding is %d bytes; Size() promised at most %d", len(canon), rec.Size())
		}
		var again session.Record
		if err := again.UnmarshalBinary(canon); err != nil {
			t.Fatalf("the re-encoding of a decoded record does not decode: %v", err)
		}
		if !sameRecord(again, rec) {
			t.Fatalf("round trip changed the record: %+v, want %+v", again, rec)
		}
		if twice, _ := again.MarshalBinary(); !bytes.Equal(twice, canon) {
			t.Fatalf("the encoding is not canonical: %x then %x", canon, twice)
		}
	})
}
