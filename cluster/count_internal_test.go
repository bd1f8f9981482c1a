package cluster

import (
	"encoding/binary"
	"errors"
	"maps"
	"slices"
	"testing"

	"github.com/sessionmesh/sessionmesh/session"
)

// An opTally reply round-trips, and one that names a partition twice or
// one beyond the table, or that is cut short, is refused as a bad message.
func TestTallyReply(t *testing.T) {
	pairs := func(v ...uint64) []byte {
		b := binary.AppendUvarint(nil, uint64(len(v)/2))
		for _, x := range v {
			b = binary.AppendUvarint(b, x)
		}
		return b
	}
	got, err := parseTally(pairs(0, 3, 7, 0, 15, 200), 16)
	if want := map[int]int{0: 3, 7: 0, 15: 200}; err != nil || !maps.Equal(got, want) {
		t.Fatalf("parseTally = %v, %v; want %v", got, err, want)
	}
	for name, b := range map[string][]byte{
		"repeated partition":     pairs(3, 1, 3, 2),
		"partition out of range": pairs(16, 1),
		"truncated":              pairs(3, 1)[:2],
		"trailing bytes":         append(pairs(3, 1), 9),
		"count beyond the bytes": binary.AppendUvarint(nil, 1000),
	} {
		if _, err := parseTally(b, 16); !errors.Is(err, ErrBadMessage) {
			t.Errorf("%s: %v; want ErrBadMessage", name, err)
		}
	}
}

// An opKeys request names a range of partitions within the table's.
func TestKeysRequest(t *testing.T) {
	if r, err := parseKeysReq((&keysReq{lo: 64, hi: 128}).marshal(), 4096); err != nil || r != (keysReq{64, 128}) {
		t.Fatalf("parseKeysReq = %+v, %v; want 64 to 128", r, err)
	}
	for name, r := range map[string]keysReq{"empty": {5, 5}, "reversed": {9, 5}, "beyond the table": {4000, 4097}} {
		if _, err := parseKeysReq(r.marshal(), 4096); !errors.Is(err, ErrBadMessage) {
			t.Errorf("%s: %v; want ErrBadMessage", name, err)
		}
	}
	if _, err := parseKeysReq(appendInts(nil, []int{1, 2, 3}), 4096); !errors.Is(err, ErrBadMessage) {
		t.Errorf("three numbers: %v; want ErrBadMessage", err)
	}
}

// An anti-entropy scan reads only the records' headers: its digests are
// those of the whole records (ID, version and Touched), its tally counts
// the tombstones apart, and the copies of partitions this node does not own
// come back whole, values and IDs included.
func TestSurveyDigestsAndCopies(t *testing.T) {
	s := routeStore(t, &fakeCaller{})
	live := record(s, backupID(s, true), 3, "3")
	buried := tombstone(record(s, backupID(s, true), 5, "5"), s.cfg.Now())
	foreign := record(s, backupID(s, false), 2, "2")
	for _, rec := range []session.Record{live, buried, foreign} {
		if _, err := s.merge(&rec); err != nil {
			t.Fatalf("merge %s: %v", rec.ID, err)
		}
	}
	tb := s.Table()
	owned := ownedBy(tb, s.name)
	sums, copies := s.survey(tb, owned, true, nil)
	want := make([]uint64, tb.Partitions())
	for _, rec := range []session.Record{live, buried} {
		want[tb.Partition(rec.ID)] += entryHash(rec.ID, &rec)
	}
	if !slices.Equal(sums, want) {
		t.Error("survey's digests differ from the digests of the whole records")
	}
	if tl := s.tally.Load(); tl.live != 2 || tl.tombstones != 1 {
		t.Errorf("survey's tally: %d live, %d tombstones; want 2 and 1", tl.live, tl.tombstones)
	}
	if len(copies) != 1 || copies[0].ID != foreign.ID || string(copies[0].Values["n"]) != "2" || copies[0].Version != 2 {
		t.Errorf("survey's copies of partitions not owned: %+v; want the whole record %s", copies, foreign.ID)
	}
}
