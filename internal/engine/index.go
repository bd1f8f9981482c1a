package engine

import "unsafe"

// An index is one shard's table from session key to the loc of its record:
// open addressing with linear probing over slots of one uint64 each, in
// memory mapped outside the Go heap (see mapPage). A slot holds the upper
// 32 bits of the key's hash (its tag, never zero: the lowest bit is set)
// and the loc; zero is an empty slot. The key itself is in the record's
// slot in the slab, so a lookup compares it there when a tag matches: two
// keys with the same hash are told apart, only slower.
//
// Why not a Go map from the 32 key bytes: a million sessions made a map of
// 85 MB in the Go heap, which the collector's goal (GOGC=100) doubled in
// RSS. Eight bytes a slot, at most 4/5 full, outside the heap, cost 11 MB
// for the same million (1.36M slots in 64 shards), and the collector never
// sees them.
//
// The table grows by half when it would pass loadMax, rehashing from the
// tags alone (the slab is not read); a shard is a small part of the store,
// so the old and the new table of one shard side by side are no peak. It
// shrinks by a third when removals leave fewer than 16% of its slots in
// use (see shrink).
// Deletion shifts the entries after the hole back (no tombstones), so
// lookups never slow down with churn. An index is not safe for concurrent
// use: its shard's lock guards it.
type index struct {
	slots  []uint64
	mapped bool // slots came from mapPage, so they are unmapped when replaced
	n      int  // entries
}

const (
	// minSlots is the size of the smallest table: one 4 KiB page.
	minSlots = 512
	// loadMax/loadOf is the fullest a table gets: a lookup of a missing
	// key (every new session's) probes about 12 slots at 4/5 full, 32 at
	// 7/8, in a few neighbouring cache lines.
	loadMax, loadOf = 4, 5
)

// tagOf returns the tag of a key whose hash is h.
func tagOf(h uint64) uint32 { return uint32(h>>32) | 1 }

// home returns the slot where a tag's probe starts: the tag scaled to the
// table (Lemire's fast range), so a table of any size works.
func (ix *index) home(tag uint32) int { return int(uint64(tag) * uint64(len(ix.slots)) >> 32) }

func (ix *index) next(i int) int {
	if i++; i == len(ix.slots) {
		return 0
	}
	return i
}

// probe calls match with the loc of every entry whose tag is tag, in probe
// order, until match returns true; it returns that entry's slot number, or
// -1 when none matched.
func (ix *index) probe(tag uint32, match func(loc uint32) bool) int {
	if len(ix.slots) == 0 {
		return -1
	}
	for i := ix.home(tag); ; i = ix.next(i) {
		e := ix.slots[i]
		switch {
		case e == 0:
			return -1
		case uint32(e>>32) == tag && match(uint32(e)):
			return i
		}
	}
}

// loc returns the loc of the entry in slot i.
func (ix *index) loc(i int) uint32 { return uint32(ix.slots[i]) }

// setLoc points the entry in slot i at loc.
func (ix *index) setLoc(i int, loc uint32) {
	ix.slots[i] = ix.slots[i]&^(1<<32-1) | uint64(loc)
}

// insert adds an entry for a key that is not in the index, growing the
// table first when it would pass loadMax.
func (ix *index) insert(tag uint32, loc uint32) {
	if (ix.n+1)*loadOf > len(ix.slots)*loadMax {
		ix.resize(max(minSlots, len(ix.slots)*3/2))
	}
	ix.place(uint64(tag)<<32 | uint64(loc))
	ix.n++
}

func (ix *index) place(e uint64) {
	i := ix.home(uint32(e >> 32))
	for ix.slots[i] != 0 {
		i = ix.next(i)
	}
	ix.slots[i] = e
}

// remove deletes the entry in slot i and moves the entries of its probe
// run that can no longer be found past the hole back into it (Knuth's
// algorithm R), so that no tombstone is left. An entry from after i can
// land in i: a walk over the slots that removes entries looks at i again
// (see each).
func (ix *index) remove(i int) {
	ix.n--
	hole := i
	for j := ix.next(i); ix.slots[j] != 0; j = ix.next(j) {
		h := ix.home(uint32(ix.slots[j] >> 32))
		// The entry at j stays when its home lies cyclically in (hole, j].
		if hole < j && hole < h && h <= j || hole > j && (hole < h || h <= j) {
			continue
		}
		ix.slots[hole] = ix.slots[j]
		hole = j
	}
	ix.slots[hole] = 0
}

// shrink gives back most of a table that removals left sparse: below a
// fifth of loadMax it moves the entries to a table two thirds the size (at
// least minSlots; a later call shrinks further), and an empty table is
// given back. The shard calls it as it unlocks, never during a walk over
// the slots (see each), so a walk never sees the table change.
func (ix *index) shrink() {
	switch {
	case !ix.sparse():
	case ix.n == 0:
		ix.release()
	default:
		ix.resize(max(minSlots, len(ix.slots)*2/3))
	}
}

// sparse reports whether shrink would shrink the table: the check on every
// unlock, inlined.
func (ix *index) sparse() bool {
	return len(ix.slots) > minSlots && ix.n*loadOf*5 < len(ix.slots)*loadMax
}

// each calls fn with the slot number and loc of every entry until fn
// returns false. fn may remove the entry it was given (and only that one):
// an entry moved back into its slot is then given too. An entry that the
// removal moves from the start of the table to its end may be given twice.
func (ix *index) each(fn func(i int, loc uint32) bool) {
	for i := 0; i < len(ix.slots); {
		e := ix.slots[i]
		if e == 0 {
			i++
			continue
		}
		if !fn(i, uint32(e)) {
			return
		}
		if ix.slots[i] == e { // else removed: look at i again
			i++
		}
	}
}

// sample calls fn with the entries that follow a random slot start, in
// slot order, until fn returns false or every entry was given once. With
// the tags spread by a hash, they are a random sample of the index.
func (ix *index) sample(start uint32, fn func(i int, loc uint32) bool) {
	if len(ix.slots) == 0 {
		return
	}
	i := int(uint64(start) * uint64(len(ix.slots)) >> 32)
	for range ix.slots {
		if e := ix.slots[i]; e != 0 && !fn(i, uint32(e)) {
			return
		}
		i = ix.next(i)
	}
}

// resize moves the entries to a table of n slots.
func (ix *index) resize(n int) {
	old, mapped := ix.slots, ix.mapped
	ix.slots, ix.mapped = mapSlots(n)
	for _, e := range old {
		if e != 0 {
			ix.place(e)
		}
	}
	if mapped {
		unmapPage(slotBytes(old))
	}
}

// release gives back the table; the index is empty afterwards.
func (ix *index) release() {
	if ix.mapped {
		unmapPage(slotBytes(ix.slots))
	}
	*ix = index{}
}

// mapSlots returns n zeroed slots outside the Go heap, or in it when
// mapping failed (mapped false).
func mapSlots(n int) ([]uint64, bool) {
	b, mapped := mapPage(n * 8)
	if !mapped {
		return make([]uint64, n), false
	}
	return unsafe.Slice((*uint64)(unsafe.Pointer(unsafe.SliceData(b))), n), true
}

func slotBytes(s []uint64) []byte {
	return unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(s))), len(s)*8)
}
