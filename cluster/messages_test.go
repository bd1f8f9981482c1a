package cluster

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/sessionmesh/sessionmesh/internal/testutil"
	"github.com/sessionmesh/sessionmesh/session"
)

func samplePatch() session.Patch {
	return session.Patch{
		NewID: session.NewID(), Clear: true,
		Set:    map[string][]byte{"a": []byte(`1`), "": nil, "long": make([]byte, 300)},
		Delete: []string{"x", "y"},
		Now:    time.Unix(1700000000, 123), Idle: time.Hour, Lifetime: 2 * time.Hour,
		Expires: time.Unix(1700086400, 7),
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
		{opSave, routed{header: header{flags: flagRedirected, budget: 1500 * time.Millisecond, deadline: now.UnixNano()}, id: session.NewID(), patch: samplePatch()}},
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

// A save whose patch sets no Expires (every request but one that changed
// the session's timeouts) is byte for byte what a node of the version
// before Expires sends, so a rolling upgrade keeps saving; one without
// Expires round-trips with it zero.
func TestSaveWithoutExpiresIsTheOlderFormat(t *testing.T) {
	p := samplePatch()
	p.Set = map[string][]byte{"a": []byte(`1`)} // one key: the encoding is deterministic
	with := p
	p.Expires = time.Time{}
	req := routed{id: session.NewID(), patch: p}
	withReq := routed{id: req.id, patch: with}
	short, long := req.marshal(opSave), withReq.marshal(opSave)
	if want := len(long) - len(binary.AppendVarint(nil, nanos(with.Expires))); len(short) != want || !bytes.Equal(short, long[:want]) {
		t.Fatalf("a save without Expires is %d bytes, not the %d of the older format", len(short), want)
	}
	got, err := parseRouted(opSave, short)
	if err != nil || !got.patch.Expires.IsZero() || got.patch.Lifetime != p.Lifetime {
		t.Fatalf("parse of a save without Expires = %+v, %v", got.patch, err)
	}
}

func TestPutAndFoundRoundTrip(t *testing.T) {
	rec := session.Record{Idle: time.Unix(1800000000, 0), Version: 3, Values: map[string][]byte{"k": []byte("1")}}
	data, id := anonymous(&rec), session.NewID()
	got, err := parsePut((&putReq{hint: "node1-abc", id: id, data: data}).marshal())
	if err != nil || got.hint != "node1-abc" || got.id != id || !bytes.Equal(got.data, data) {
		t.Fatalf("put round trip: %+v, %v", got, err)
	}
	d, found, err := parseFound(marshalFound(data, true))
	if err != nil || !found || !bytes.Equal(d, data) {
		t.Fatalf("found round trip: %q %v %v", d, found, err)
	}
	if r, err := decodeFound(id, d); err != nil || r.ID != id || r.Version != 3 || string(r.Values["k"]) != "1" {
		t.Fatalf("decodeFound = %+v, %v", r, err)
	}
	if _, found, err := parseFound(marshalFound(nil, false)); err != nil || found {
		t.Fatalf("not-found round trip: %v %v", found, err)
	}
	withID := rec
	withID.ID = id
	if _, err := parsePut((&putReq{id: id, data: withID.AppendBinary(nil)}).marshal()); !errors.Is(err, ErrBadMessage) {
		t.Fatalf("a put of a record with its ID inside: %v; want ErrBadMessage", err)
	}
}

// Messages come from the network: any bytes must decode or fail with
// ErrBadMessage, never panic or allocate beyond the input (parseBudget).
func FuzzParseMessages(f *testing.F) {
	f.Add(opSave, (&routed{id: "x", patch: samplePatch()}).marshal(opSave))
	f.Add(opPut, (&putReq{hint: "h", id: "i", data: anonymous(&session.Record{Version: 1})}).marshal())
	f.Add(opLoad, []byte{0, 0, 200, 200, 200, 200, 1})
	f.Add(opPull, (&pullReq{register: true, name: "n", addr: "a:1", parts: []int{0, 4095}}).marshal())
	f.Add(opMerge, recordBatch(session.Record{ID: "i", Version: 2}))
	f.Add(opDigest, appendDigests(nil, []digest{{part: 7, sum: 1 << 60}}))
	f.Add(opMember, (&memberReq{name: "n", meta: nodeMeta{Peer: "a:1", Seq: 3}}).marshal())
	f.Add(uint8(5), hugeDigest()) // case 5: a partition that is negative as an int
	f.Add(uint8(7), countReply{live: 3, at: time.Unix(1, 2), ready: true}.marshal())
	f.Add(uint8(8), (&seenReply{memberFor: time.Second, print: 9}).marshal())
	f.Add(uint8(4), hostileBatch(1<<10))
	f.Add(uint8(0), hostilePatch(1<<10))
	f.Add(uint8(12), sampleLeaseReply().marshal())
	f.Fuzz(func(t *testing.T, op uint8, b []byte) {
		testutil.AllocBudget(t, fmt.Sprintf("decoding %d bytes as case %d", len(b), op%13), parseBudget(len(b)), func() {
			parseAny(t, op, b)
		})
		testutil.AllocBudget(t, fmt.Sprintf("decoding %d bytes as an install", len(b)), parseBudget(len(b)), func() {
			parseRouted(opInstall, b)
		})
	})
}

// parseBudget is the most a decoder may allocate for n bytes of message:
// what the records, maps and lists decoded from them take, which for the
// smallest items (a record of 10 bytes is a 128-byte Record; a value pair
// of 2 bytes a map slot of about 50) is a few dozen times their size, and
// a constant.
func parseBudget(n int) uint64 { return uint64(64*n + 16<<10) }

// parseAny decodes b as one of the messages, chosen by op, and checks
// what the decoders promise beyond not panicking.
func parseAny(t *testing.T, op uint8, b []byte) {
	switch op % 13 {
	case 0:
		parseRouted(opSave, b)
	case 1:
		parsePut(b)
	case 2:
		parseFound(b)
	case 3:
		if r, err := parsePull(b); err == nil && slices.ContainsFunc(r.parts, func(p int) bool { return p < 0 || p > 1<<16 }) {
			t.Fatalf("pull of partitions %v decoded", r.parts)
		}
	case 4:
		parseRecords(b)
	case 5:
		if ds, err := parseDigests(b); err == nil && slices.ContainsFunc(ds, func(d digest) bool { return d.part < 0 || d.part > 1<<16 }) {
			t.Fatalf("digests %v decoded", ds)
		}
	case 6:
		parseMember(b)
	case 7:
		if c, err := parseCount(b); err == nil && (c.live < 0 || c.tombstones < 0 || c.hinted < 0 || c.underReplicated < 0 || c.bytes < -1) {
			t.Fatalf("count %+v decoded", c)
		}
	case 8:
		if r, err := parseSeenReply(b); err == nil && r.memberFor < 0 {
			t.Fatalf("seen reply %+v decoded", r)
		}
	case 9:
		parseSeen(b)
		parseFetch(b)
		parsePrincipal(b)
		if r, err := parsePrincipalReply(b); err == nil && slices.ContainsFunc(r.ids, func(id string) bool { return !session.ValidID(id) }) {
			t.Fatalf("principal reply %v decoded", r.ids)
		}
	case 10:
		if n, err := parseNumber(b); err == nil && n < 0 {
			t.Fatalf("number %d decoded", n)
		}
	case 11:
		if ps, err := parseDiffer(b); err == nil && slices.ContainsFunc(ps, func(p int) bool { return p < 0 || p > 1<<16 }) {
			t.Fatalf("digest reply %v decoded", ps)
		}
	case 12:
		if r, err := parseLeaseReply(b, 4096); err == nil && (len(r.cover) > 64 || slices.ContainsFunc(r.dirty, func(p int) bool { return p < 0 || p >= 4096 })) {
			t.Fatalf("lease reply of %d words, dirty %v decoded for 4096 partitions", len(r.cover), r.dirty)
		}
	}
}

func sampleLeaseReply() *leaseReply {
	r := &leaseReply{granted: true, epoch: 3, dirtyGen: 9, dirty: []int{7, 4095}, cover: newBitset(4096)}
	r.cover.add(0)
	r.cover.add(4095)
	return r
}

// A lease reply round-trips; one with more cover than the table has
// partitions, or a dirty partition beyond them, does not decode.
func TestLeaseReplyRoundTrip(t *testing.T) {
	want := sampleLeaseReply()
	got, err := parseLeaseReply(want.marshal(), 4096)
	if err != nil || !reflect.DeepEqual(&got, want) {
		t.Fatalf("round trip: %+v, %v; want %+v", got, err, want)
	}
	if _, err := parseLeaseReply(want.marshal(), 64); !errors.Is(err, ErrBadMessage) {
		t.Fatalf("a cover of 4096 partitions for a table of 64: %v; want ErrBadMessage", err)
	}
}

// hostileBatch is the audit's opMerge of finding L1: a record batch that
// announces count records and holds count zero bytes.
func hostileBatch(count int) []byte { return hostileList(count, count) }

// hostileList is a count of items followed by size zero bytes.
func hostileList(count, size int) []byte {
	return append(binary.AppendUvarint(nil, uint64(count)), make([]byte, size)...)
}

// hostilePatch is an opSave whose patch announces count values to set and
// holds count zero bytes (an empty key and value takes two).
func hostilePatch(count int) []byte {
	b := (&routed{id: "x"}).marshal(opLoad)
	b = append(b, 0, 0) // NewID "", Clear false
	b = binary.AppendUvarint(b, uint64(count))
	return append(b, make([]byte, count)...)
}

// A 2 MB message whose count asks for millions of items (the audit's
// opMerge made a node allocate 264 MiB) fails to decode having allocated
// about what it holds. So does an opMerge of one record, or an opPut of
// one, that announces 2 million values (session.Record.UnmarshalBinary).
func TestHostileCountsAllocateLittle(t *testing.T) {
	const count = 2_100_000
	record := (&session.Record{Version: 1}).AppendBinary(nil)
	record = append(binary.AppendUvarint(record[:len(record)-1], count), make([]byte, count)...)
	oneRecord := append(binary.AppendUvarint([]byte{1}, uint64(len(record))), record...)
	cases := []struct {
		name  string
		b     []byte
		parse func([]byte) error
	}{
		{"record batch", hostileBatch(count), func(b []byte) error { _, err := parseRecords(b); return err }},
		{"batch of one hostile record", oneRecord, func(b []byte) error { _, err := parseRecords(b); return err }},
		{"patch", hostilePatch(count), func(b []byte) error { _, err := parseRouted(opSave, b); return err }},
		{"install of a hostile record", append((&routed{id: "x"}).marshal(opLoad), record...), func(b []byte) error { _, err := parseRouted(opInstall, b); return err }},
		{"digests", hostileBatch(count), func(b []byte) error { _, err := parseDigests(b); return err }},
		{"partitions", append([]byte{0, 0, 0}, hostileList(count, count-1)...), func(b []byte) error { _, err := parsePull(b); return err }},
		{"more partitions than there are", append([]byte{0, 0, 0}, hostileList(count, count)...), func(b []byte) error { _, err := parsePull(b); return err }},
		{"principal reply", hostileList(count/(1+session.IDLen), count), func(b []byte) error { _, err := parsePrincipalReply(b); return err }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			n := testutil.Allocated(func() { err = tc.parse(tc.b) })
			if !errors.Is(err, ErrBadMessage) {
				t.Fatalf("decoded, or failed without ErrBadMessage: %v", err)
			}
			if limit := uint64(3*len(tc.b) + 64<<10); n > limit {
				t.Fatalf("decoding %d hostile bytes allocated %d bytes (%.0f per input byte); want at most %d", len(tc.b), n, float64(n)/float64(len(tc.b)), limit)
			}
		})
	}
}

func recordBatch(recs ...session.Record) []byte {
	var b batch
	for i := range recs {
		b.add(&recs[i])
	}
	return append(binary.AppendUvarint(nil, uint64(b.n)), b.buf...)
}

func TestLifecycleMessagesRoundTrip(t *testing.T) {
	pr := pullReq{register: true, name: "node1-abc", addr: "10.0.0.1:7947", parts: []int{0, 17, 4095}}
	if got, err := parsePull(pr.marshal()); err != nil || !reflect.DeepEqual(got, pr) {
		t.Errorf("pull round trip: %+v, %v", got, err)
	}
	recs := []session.Record{
		{ID: session.NewID(), Idle: time.Unix(1800000000, 0), Version: 3, Values: map[string][]byte{"k": []byte("1")}},
		{ID: session.NewID(), Idle: time.Unix(1800000000, 0), Version: 9},
	}
	if got, err := parseRecords(recordBatch(recs...)); err != nil || !reflect.DeepEqual(got, recs) {
		t.Errorf("record batch round trip: %+v, %v", got, err)
	}
	ds := []digest{{part: 1, sum: 42}, {part: 4095, sum: 1<<64 - 1}}
	if got, err := parseDigests(appendDigests(nil, ds)); err != nil || !reflect.DeepEqual(got, ds) {
		t.Errorf("digests round trip: %+v, %v", got, err)
	}
	mr := memberReq{name: "node2-def", meta: nodeMeta{Version: metaVersion, Peer: "10.0.0.2:7947", Draining: true, Left: true, Seq: 5}}
	if got, err := parseMember(mr.marshal()); err != nil || got != mr {
		t.Errorf("member round trip: %+v, %v", got, err)
	}
	if _, err := parsePull(appendInts([]byte{1, 0, 0}, []int{1 << 20})); !errors.Is(err, ErrBadMessage) {
		t.Errorf("pull of partition 1<<20: %v; want ErrBadMessage", err)
	}
	if ds, err := parseDigests(hugeDigest()); !errors.Is(err, ErrBadMessage) {
		t.Errorf("digest of partition 2^63: %v, %v; want ErrBadMessage (as an int it is negative)", ds, err)
	}
}

// hugeDigest is a digest request for partition 2^63.
func hugeDigest() []byte {
	b := binary.AppendUvarint([]byte{1}, 1<<63)
	return binary.BigEndian.AppendUint64(b, 42)
}

func TestReplyRoundTrip(t *testing.T) {
	c := countReply{live: 7, tombstones: 2, at: time.Unix(1700000000, 9), hinted: 1, underReplicated: 3, conflicts: 4, ready: true, evictions: 5, refused: 6, bytes: 1 << 20}
	// A node of the version before bytes: its reply ends after refused.
	old := c.marshal()
	old = old[:len(old)-len(binary.AppendUvarint(nil, 1<<20))]
	if got, err := parseCount(old); err != nil || got.bytes != -1 || got.refused != 6 {
		t.Fatalf("parseCount of a reply without bytes = %+v, %v; want bytes -1 (unknown), the rest read", got, err)
	}
	if got, err := parseCount(c.marshal()); err != nil || got != c {
		t.Errorf("count round trip: %+v, %v", got, err)
	}
	sr := seenReply{memberFor: 90 * time.Second, print: 1 << 63}
	if got, err := parseSeenReply(sr.marshal()); err != nil || got != sr {
		t.Errorf("seen reply round trip: %+v, %v", got, err)
	}
	if got, err := parseSeen((&seenReq{name: "n-1"}).marshal()); err != nil || got.name != "n-1" {
		t.Errorf("seen request round trip: %+v, %v", got, err)
	}
	id := session.NewID()
	if got, err := parseFetch((&fetchReq{id: id}).marshal()); err != nil || got.id != id {
		t.Errorf("fetch round trip: %+v, %v", got, err)
	}
	if got, err := parseNumber(marshalNumber(12345)); err != nil || got != 12345 {
		t.Errorf("number round trip: %d, %v", got, err)
	}
	if got, err := parseDiffer(marshalDiffer([]int{0, 4095})); err != nil || !slices.Equal(got, []int{0, 4095}) {
		t.Errorf("digest reply round trip: %v, %v", got, err)
	}
}
