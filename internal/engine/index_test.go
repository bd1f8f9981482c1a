package engine

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/sessionmesh/sessionmesh/session"
)

// checkIndex finds every entry of want (loc -> tag) in ix, and checks that
// ix holds nothing else and stays within loadMax.
func checkIndex(t *testing.T, ix *index, want map[uint32]uint32) {
	t.Helper()
	for loc, tag := range want {
		i := ix.probe(tag, func(l uint32) bool { return l == loc })
		if i < 0 || ix.loc(i) != loc {
			t.Fatalf("entry loc %d, tag %#x not found (slot %d) among %d in %d slots", loc, tag, i, ix.n, len(ix.slots))
		}
	}
	n := 0
	ix.each(func(_ int, loc uint32) bool {
		if _, ok := want[loc]; !ok {
			t.Fatalf("index holds loc %d, which was removed or never inserted", loc)
		}
		n++
		return true
	})
	if n != len(want) || ix.n != len(want) {
		t.Fatalf("index walks %d entries and counts %d; want %d", n, ix.n, len(want))
	}
	if ix.n*loadOf > len(ix.slots)*loadMax {
		t.Fatalf("%d entries in %d slots: over loadMax", ix.n, len(ix.slots))
	}
}

// Inserts and removals in any order keep every entry findable, through
// growth, long probe runs of equal and neighbouring tags, and runs that
// wrap from the end of the table to its start.
func TestIndexKeepsEntries(t *testing.T) {
	tags := map[string]func(*rand.Rand) uint32{
		"random":    func(r *rand.Rand) uint32 { return r.Uint32() | 1 },
		"few":       func(r *rand.Rand) uint32 { return uint32(r.IntN(8))<<29 | 1 }, // long runs of equal tags
		"wrapping":  func(r *rand.Rand) uint32 { return ^uint32(r.IntN(1 << 24)) },  // homes at the table's end
		"colliding": func(*rand.Rand) uint32 { return 1<<31 | 1 },
	}
	for name, tag := range tags {
		t.Run(name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(1, 2))
			var ix index
			defer ix.release()
			want := map[uint32]uint32{}
			var locs []uint32
			for step := range 6000 {
				if len(locs) == 0 || rng.IntN(5) < 3 {
					loc := uint32(step)
					want[loc] = tag(rng)
					ix.insert(want[loc], loc)
					locs = append(locs, loc)
				} else {
					j := rng.IntN(len(locs))
					loc := locs[j]
					ix.remove(ix.probe(want[loc], func(l uint32) bool { return l == loc }))
					delete(want, loc)
					locs[j] = locs[len(locs)-1]
					locs = locs[:len(locs)-1]
				}
				if step%500 == 0 {
					checkIndex(t, &ix, want)
				}
			}
			checkIndex(t, &ix, want)
		})
	}
}

// The table grows in steps of a half and stays within loadMax; each may
// remove the entry it is given; shrink gives back a sparse table in steps
// of a third, and an empty one whole.
func TestIndexGrowsAndShrinks(t *testing.T) {
	var ix index
	defer ix.release()
	rng := rand.New(rand.NewPCG(3, 4))
	want := map[uint32]uint32{}
	sizes := []int{}
	for loc := range uint32(20000) {
		want[loc] = rng.Uint32() | 1
		ix.insert(want[loc], loc)
		if len(sizes) == 0 || sizes[len(sizes)-1] != len(ix.slots) {
			sizes = append(sizes, len(ix.slots))
		}
	}
	checkIndex(t, &ix, want)
	for i := 1; i < len(sizes); i++ {
		if sizes[i] != sizes[i-1]*3/2 {
			t.Fatalf("table sizes %v: want each half again the one before", sizes)
		}
	}
	// Remove all but every tenth entry in a walk, as a sweep does.
	seen := map[uint32]int{}
	ix.each(func(i int, loc uint32) bool {
		if seen[loc]++; loc%10 != 0 && seen[loc] == 1 {
			ix.remove(i)
			delete(want, loc)
		}
		return true
	})
	for loc := range uint32(20000) {
		if seen[loc] == 0 {
			t.Fatalf("the walk that removed entries skipped loc %d", loc)
		}
	}
	checkIndex(t, &ix, want)
	full := len(ix.slots)
	for range 10 {
		ix.shrink()
	}
	checkIndex(t, &ix, want)
	if len(ix.slots) >= full || ix.n*loadOf*5 < len(ix.slots)*loadMax {
		t.Fatalf("%d entries in %d slots after shrinking from %d: want a table at least 16%% full", ix.n, len(ix.slots), full)
	}
	ix.each(func(i int, loc uint32) bool {
		ix.remove(i)
		return true
	})
	if ix.shrink(); ix.n != 0 || ix.slots != nil {
		t.Fatalf("after removing every entry: %d entries, %d slots; want the table given back", ix.n, len(ix.slots))
	}
	ix.insert(3, 7) // and it works again
	checkIndex(t, &ix, map[uint32]uint32{7: 3})
}

// collidingStore returns a Map whose keys all hash alike: one shard, one
// tag, so every lookup compares the keys in the slab.
func collidingStore(t *testing.T, cfg Config) *Map {
	s := newStore(t, cfg)
	s.testHash = func(key) uint64 { return 42 << 32 }
	return s
}

// Sessions whose keys collide are told apart by their full key, through
// creates, reads, patches, renews, removals, re-creation, expiry and Range.
func TestCollidingKeys(t *testing.T) {
	clk := newClock()
	s := collidingStore(t, Config{Shards: 4, Now: clk.Now})
	ids := make([]string, 300)
	for i := range ids {
		ids[i] = create(t, s, clk.Now(), time.Duration(1+i%2)*time.Hour, fmt.Sprint(i)) // odd ones live longer
	}
	check := func(want map[string]string) {
		t.Helper()
		for id, v := range want {
			rec, ok := s.Get(id)
			if v == "" && ok || v != "" && (!ok || string(rec.Values["k"]) != v || rec.ID != id) {
				t.Fatalf("Get(%s) = %q, %t; want %q", id, rec.Values["k"], ok, v)
			}
		}
		ranged := 0
		s.Range(func(id string, rec session.Record) bool {
			if want[id] != string(rec.Values["k"]) {
				t.Fatalf("Range gave %s = %q; want %q", id, rec.Values["k"], want[id])
			}
			ranged++
			return true
		})
		live := 0
		for _, v := range want {
			if v != "" {
				live++
			}
		}
		if ranged != live || s.Stats().Sessions != live {
			t.Fatalf("Range gave %d sessions, Stats counts %d; want %d", ranged, s.Stats().Sessions, live)
		}
	}
	want := map[string]string{}
	for i, id := range ids {
		want[id] = fmt.Sprint(i)
	}
	check(want)
	// Of every six sessions, the first is removed and created again, the
	// second patched, the third renewed, all with a two-hour idle timeout;
	// the other three keep theirs.
	for i := 0; i < len(ids); i += 6 {
		s.Remove(ids[i])
		p := session.Patch{Now: clk.Now(), Idle: 2 * time.Hour, Set: map[string][]byte{"k": []byte("p")}}
		if err := s.Patch(ids[i+1], p); err != nil {
			t.Fatal(err)
		}
		want[ids[i]], want[ids[i+1]] = "", "p"
	}
	check(want)
	for i := 0; i < len(ids); i += 6 { // the removed come back under their old IDs
		p := session.Patch{NewID: ids[i], Now: clk.Now(), Idle: 2 * time.Hour, Set: map[string][]byte{"k": []byte("again")}}
		if err := s.Create(p); err != nil {
			t.Fatal(err)
		}
		renewed := session.NewID()
		if err := s.Renew(ids[i+2], session.Patch{NewID: renewed, Now: clk.Now(), Idle: 2 * time.Hour}); err != nil {
			t.Fatal(err)
		}
		want[ids[i]], want[renewed], want[ids[i+2]] = "again", want[ids[i+2]], ""
	}
	check(want)
	// An hour and a half later the untouched sessions with a one-hour idle
	// timeout (the fifth of every six) have expired: half of them are found
	// by reads, the rest swept.
	clk.Advance(90 * time.Minute)
	var expired []string
	for i := 4; i < len(ids); i += 6 {
		expired = append(expired, ids[i])
		want[ids[i]] = ""
	}
	for _, id := range expired[:len(expired)/2] {
		if s.Has(id) {
			t.Fatalf("expired session %s is still there", id)
		}
	}
	if n := s.Sweep(); n != len(expired)-len(expired)/2 {
		t.Fatalf("Sweep removed %d; want %d", n, len(expired)-len(expired)/2)
	}
	check(want)
}

// Eviction at a bound works through colliding keys and never evicts the
// session being written.
func TestCollidingKeysEviction(t *testing.T) {
	clk := newClock()
	s := collidingStore(t, Config{Shards: 2, MaxSessions: 50, Now: clk.Now})
	var ids []string
	for i := range 200 {
		ids = append(ids, create(t, s, clk.Now(), time.Duration(i+1)*time.Minute, fmt.Sprint(i)))
		if !found(t, s, ids[i]) {
			t.Fatalf("session %d, just created, was evicted", i)
		}
	}
	if st := s.Stats(); st.Sessions != 50 || st.Evictions != 150 {
		t.Fatalf("Stats = %+v; want 50 sessions after 150 evictions", st)
	}
	kept := 0
	for i, id := range ids {
		if rec, ok := s.Get(id); ok {
			kept++
			if string(rec.Values["k"]) != fmt.Sprint(i) {
				t.Fatalf("session %d holds %q", i, rec.Values["k"])
			}
		}
	}
	if kept != 50 {
		t.Fatalf("%d sessions found; want 50", kept)
	}
}

// A shard's index shrinks as the sessions it held go, every session left
// stays found, and an emptied shard keeps at most the smallest table.
func TestIndexShrinksAfterRemovals(t *testing.T) {
	clk := newClock()
	s := newStore(t, Config{Shards: 1, Now: clk.Now})
	ids := make([]string, 5000)
	for i := range ids {
		ids[i] = create(t, s, clk.Now(), time.Hour, "v")
	}
	slots := func() int {
		s.shards[0].mu.Lock()
		defer s.shards[0].unlock()
		return len(s.shards[0].index.slots)
	}
	full := slots()
	for _, id := range ids[100:] {
		s.Remove(id)
	}
	if n := slots(); n >= full/2 {
		t.Fatalf("100 sessions left of 5000: index of %d slots, %d when full; want it shrunk", n, full)
	}
	for _, id := range ids[:100] {
		if !found(t, s, id) {
			t.Fatal("a session left was lost when the index shrank")
		}
		s.Remove(id)
	}
	if n := slots(); n > minSlots {
		t.Fatalf("every session removed: index of %d slots; want at most %d", n, minSlots)
	}
}
