package engine

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sessionmesh/sessionmesh/session"
)

// keyOf accepts exactly what session.ValidID accepts and decodes it as
// base64url does.
func FuzzKeyOf(f *testing.F) {
	valid := session.NewID()
	for _, seed := range []string{
		valid, strings.Repeat("A", session.IDLen), strings.Repeat("_", session.IDLen),
		valid[:session.IDLen-1] + "B", valid[:session.IDLen-1] + "w", valid[:session.IDLen-1],
		valid + "A", valid[:20] + "+" + valid[21:], valid[:20] + "\n" + valid[21:], "",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, id string) {
		k, ok := keyOf(id)
		if ok != session.ValidID(id) {
			t.Fatalf("keyOf(%q) ok = %t; session.ValidID says %t", id, ok, !ok)
		}
		if !ok {
			return
		}
		want, err := base64.RawURLEncoding.DecodeString(id)
		if err != nil || !bytes.Equal(k[:], want) {
			t.Fatalf("keyOf(%q) = %x; base64url decodes %x, %v", id, k, want, err)
		}
		if k.String() != id {
			t.Fatalf("key.String() = %q; want %q back", k.String(), id)
		}
	})
}

// checkSlab compares s with the records it should hold and checks its
// bookkeeping: every class counts the slots its pages have and use.
func checkSlab(t *testing.T, s *slab, want map[uint32]stored) {
	t.Helper()
	for loc, w := range want {
		data := w.data
		if got := s.load(loc); !bytes.Equal(got, data) {
			t.Fatalf("load(%#x) = %d bytes %.20q...; want %d bytes %.20q...", loc, len(got), got, len(data), data)
		}
		if d := s.deadline(loc); d != deadlineOf(data) {
			t.Fatalf("deadline(%#x) = %d; want %d", loc, d, deadlineOf(data))
		}
		if k := s.key(loc); *k != w.k {
			t.Fatalf("key(%#x) = %x; want %x", loc, *k, w.k)
		}
	}
	slots, used := make([]int, len(slotSizes)), make([]int, len(slotSizes))
	for _, pg := range s.pages {
		if pg.mem != nil && pg.class != dedicated {
			slots[pg.class] += len(pg.mem) / pg.slot
			used[pg.class] += pg.used
		}
	}
	for i, c := range s.classes {
		if c.slots != slots[i] || c.used != used[i] {
			t.Fatalf("class %d (%d-byte slots) counts %d slots, %d used; its pages have %d, %d used",
				i, slotSizes[i], c.slots, c.used, slots[i], used[i])
		}
	}
}

// compact does what shard.unlock does: evacuate sparse classes and move
// their records, here with locs (and want) in place of the index.
func compact(s *slab, locs []uint32, want map[uint32]stored) {
	if s.sparse == 0 || !s.evacuate() {
		return
	}
	for j, loc := range locs {
		if s.evacuating(loc) {
			data := want[loc]
			delete(want, loc)
			locs[j] = s.move(loc)
			want[locs[j]] = data
		}
	}
}

// deadlineOf is the deadline the tests store with data.
// deadlineOf is a deadline that tells records apart by their length, in
// the range a slot holds (below usedBit).
func deadlineOf(data []byte) int64 { return 1 << 40 / int64(1+len(data)) }

// stored is what the slab tests expect at a loc: a record and its key.
type stored struct {
	data []byte
	k    key
}

// testKey is a key for the i-th record a test stores.
func testKey(i int) key {
	var k key
	binary.LittleEndian.PutUint64(k[:], uint64(i))
	k[len(k)-1] = byte(i)
	return k
}

func record(rng *rand.Rand) []byte {
	n := rng.IntN(400)
	if rng.IntN(50) == 0 {
		n = pageSize/4 + rng.IntN(pageSize) // a dedicated page
	}
	return bytes.Repeat([]byte{byte('a' + rng.IntN(26))}, n)
}

// Random stores, replaces and frees keep every record intact, and once
// everything is freed at most one page per class is left.
func TestSlabKeepsRecords(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var s slab
	defer s.releaseAll()
	want := map[uint32]stored{}
	locs := []uint32{}
	for i := range 20000 {
		switch op := rng.IntN(10); {
		case op < 4 || len(locs) == 0:
			data, k := record(rng), testKey(i)
			loc := s.store(&k, data, deadlineOf(data))
			if _, dup := want[loc]; dup {
				t.Fatalf("store handed out loc %#x twice", loc)
			}
			want[loc] = stored{data, k}
			locs = append(locs, loc)
		case op < 7:
			j := rng.IntN(len(locs))
			data, k := record(rng), want[locs[j]].k
			delete(want, locs[j])
			locs[j] = s.replace(locs[j], data, deadlineOf(data))
			want[locs[j]] = stored{data, k}
		default:
			j := rng.IntN(len(locs))
			s.free(locs[j])
			delete(want, locs[j])
			locs[j] = locs[len(locs)-1]
			locs = locs[:len(locs)-1]
		}
		compact(&s, locs, want)
		if i%1000 == 0 {
			checkSlab(t, &s, want)
		}
	}
	checkSlab(t, &s, want)
	for _, loc := range locs {
		s.free(loc)
	}
	live := 0
	for _, pg := range s.pages {
		if pg.mem != nil {
			live++
		}
	}
	if live > len(slotSizes) {
		t.Fatalf("%d pages left after freeing every record; want at most one per class (%d)", live, len(slotSizes))
	}
}

// Sessions that grow into the next size class leave their old class's pages
// full of holes; compaction gives those pages back and every session stays
// intact.
func TestCompactionAfterSessionsGrow(t *testing.T) {
	clk := newClock()
	s := newStore(t, Config{Shards: 1, Now: clk.Now})
	ids := make([]string, 20000)
	for i := range ids {
		ids[i] = create(t, s, clk.Now(), time.Hour, "1")
	}
	used := func() (pages, bytes int) {
		sh := &s.shards[0]
		sh.mu.Lock()
		defer sh.mu.Unlock()
		for _, pg := range sh.slab.pages {
			if pg.mem != nil {
				pages++
				bytes += pg.used * pg.slot
			}
		}
		return pages, bytes
	}
	before, _ := used()
	// Every other session grows by 40 bytes: a different class.
	for i := 0; i < len(ids); i += 2 {
		p := session.Patch{Now: clk.Now(), Idle: time.Hour, Set: map[string][]byte{"k": []byte(strings.Repeat("x", 40))}}
		if err := s.Patch(ids[i], p); err != nil {
			t.Fatal(err)
		}
	}
	pages, bytes := used()
	// Each class may be an eighth empty, plus a page for rounding.
	if limit := bytes*8/7/pageSize + 2; pages > limit {
		t.Fatalf("after half the sessions grew: %d pages for %d bytes of slots (%d pages before); want at most %d",
			pages, bytes, before, limit)
	}
	var ranged []string // the keys moved with their records
	s.Range(func(id string, _ session.Record) bool { ranged = append(ranged, id); return true })
	if slices.Sort(ranged); !slices.Equal(ranged, slices.Sorted(slices.Values(ids))) {
		t.Fatalf("Range after compaction gave %d IDs, not the %d created", len(ranged), len(ids))
	}
	for i, id := range ids {
		rec, ok := s.Get(id)
		want := "1"
		if i%2 == 0 {
			want = strings.Repeat("x", 40)
		}
		if !ok || string(rec.Values["k"]) != want {
			t.Fatalf("session %d after compaction: %q, %t; want %q", i, rec.Values["k"], ok, want)
		}
	}
}

func TestSlotSizes(t *testing.T) {
	for i, size := range slotSizes {
		if size%16 != 0 || i > 0 && (size <= slotSizes[i-1] || size-slotSizes[i-1] > max(16, slotSizes[i-1]/8)) {
			t.Fatalf("slot sizes %v: %d does not follow %d by 16 bytes or at most an eighth", slotSizes, size, slotSizes[i-1])
		}
	}
	if len(slotSizes) > 64 || slotSizes[len(slotSizes)-1] > pageSize/4 || pageSize/slotSizes[0] > 1<<slotBits {
		t.Fatalf("%d slot sizes from %d to %d: want at most 64, none over a quarter page, a page of the smallest numbered in %d bits",
			len(slotSizes), slotSizes[0], slotSizes[len(slotSizes)-1], slotBits)
	}
	largest := slotSizes[len(slotSizes)-1]
	for _, n := range []int{1, 32, 33, largest - 1, largest, largest + 1} {
		c := classOf(n)
		if c == dedicated && n <= largest || c != dedicated && (slotSizes[c] < n || c > 0 && slotSizes[c-1] >= n) {
			t.Errorf("classOf(%d) = %d: not the smallest slot that holds it", n, c)
		}
	}
}
