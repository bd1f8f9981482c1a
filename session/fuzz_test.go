package session_test

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sessionmesh/sessionmesh/internal/testutil"
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
// may panic or allocate beyond unmarshalBudget; whatever decodes must
// re-encode to a canonical form that decodes to the same record and
// re-encodes to the same bytes.
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
	f.Add(hostileCount(1 << 10))
	f.Fuzz(func(t *testing.T, data []byte) {
		var rec session.Record
		var err error
		testutil.AllocBudget(t, fmt.Sprintf("UnmarshalBinary of %d bytes", len(data)), unmarshalBudget(len(data)), func() {
			rec = session.Record{}
			err = rec.UnmarshalBinary(data)
		})
		if err != nil {
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

// unmarshalBudget is the most UnmarshalBinary may allocate for n bytes of
// input: the two copies of the values section, and the map a record's
// distinct keys fill, which is what it costs however the map is sized
// (measured: 65536 distinct two-byte keys with empty values, 262 KB,
// allocate 13 MB, 50 bytes per input byte), and a constant.
func unmarshalBudget(n int) uint64 { return uint64(64*n + 16<<10) }

// hostileCount is the record of the audit's finding L1: a header that
// announces count values, and count zero bytes (an empty key and value
// takes two, so only half of them are there).
func hostileCount(count int) []byte {
	b, _ := (&session.Record{Version: 1}).MarshalBinary()
	b = binary.AppendUvarint(b[:len(b)-1], uint64(count)) // the last byte was the count 0
	return append(b, make([]byte, count)...)
}

// A 2 MB record that announces 2.1 million values (the audit's opPut
// payload, which made a node allocate 196 MiB and spend 1.8 s of CPU per
// frame) fails to decode having allocated about what it holds, not the
// map its count asks for.
func TestUnmarshalHostileCount(t *testing.T) {
	b := hostileCount(2_100_000)
	var err error
	n := testutil.Allocated(func() {
		var rec session.Record
		err = rec.UnmarshalBinary(b)
	})
	if err == nil {
		t.Fatal("a record announcing more values than it holds decoded")
	}
	if limit := uint64(3*len(b) + 64<<10); n > limit { // the two copies, and a little
		t.Fatalf("decoding %d hostile bytes allocated %d bytes (%.0f per input byte); want at most %d", len(b), n, float64(n)/float64(len(b)), limit)
	}
}
