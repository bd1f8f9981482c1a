package engine

import (
	"encoding/binary"
	"math/bits"
	"slices"
	"sort"

	"github.com/sessionmesh/sessionmesh/session"
)

// A slab keeps the records of one shard in pages of fixed-size slots, so
// that a million sessions are a few thousand large objects without pointers
// instead of a million small ones: the garbage collector has nothing to
// scan, and a rewritten record reuses a slot instead of leaving garbage.
//
// Each slot holds a record's deadline (8 bytes, Unix nanoseconds: every
// lookup checks it, and decoding it from the record would cost more than the
// lookup), its session's key (32 bytes: the index keeps only a hash of it,
// see index), length (uvarint) and bytes. Slots come in size
// classes 16 bytes or an eighth apart (slotSizes); a page holds slots of one
// class. A record larger than the largest class gets a page of its own. A
// record's place is a loc: its page number and slot number in one uint32.
//
// Records that grow or shrink change class and leave holes behind, so a
// class whose pages are more than an eighth empty is compacted: its
// emptiest pages are evacuated (the shard moves their records into the
// holes of the others) and released. A slab is not safe for concurrent use:
// its shard's lock guards it.
type slab struct {
	pages   []page
	spare   []uint32    // numbers of released pages, reused first
	classes []sizeClass // by index in slotSizes; made on first use
	sparse  uint64      // bit i: class i may need compacting
}

type sizeClass struct {
	partial []uint32 // pages with a free slot, evacuating ones excepted
	slots   int      // in all pages of the class
	used    int      // slots holding a record
}

type page struct {
	mem        []byte // the slots; nil once released
	mapped     bool   // mem came from mapPage, so release unmaps it
	evacuating bool   // its records are being moved out; released when empty
	slot       int    // slot size in bytes
	class      int    // index in slotSizes, or dedicated
	used       int    // slots holding a record
	fresh      int    // slots from fresh on have never been used
	free       int    // a freed slot, whose first 4 bytes name the next; noSlot: none
}

const (
	// pageSize is the size of a page of slots.
	pageSize = 64 << 10
	// slotBits is the part of a loc that numbers the slot within its page:
	// enough for a page of the smallest slots. The other 21 bits number
	// pages: 128 GiB per shard.
	slotBits = 11
	// dedicated is the class of a page that holds one large record.
	dedicated = -1
	noSlot    = -1
)

// slotSizes are the slot sizes, smallest first: 16 bytes apart up to 256,
// then an eighth apart (rounded to 16) up to a quarter page; the smallest
// holds a key and an empty record. There are fewer than 64, so a bit set
// (slab.sparse) covers them.
var slotSizes = func() []int {
	var sizes []int
	for s := 48; s <= pageSize/4; s += max(16, s/8&^15) {
		sizes = append(sizes, s)
	}
	return sizes
}()

// classOf returns the class of the smallest slot that holds need bytes, or
// dedicated.
func classOf(need int) int {
	if class := sort.SearchInts(slotSizes, need); class < len(slotSizes) {
		return class
	}
	return dedicated
}

// store writes the record of the session k with its deadline to a new slot
// and returns its loc.
func (s *slab) store(k *key, data []byte, deadline int64) uint32 {
	need := slotNeed(len(data))
	var loc uint32
	if class := classOf(need); class != dedicated {
		loc = s.alloc(class)
	} else {
		loc = s.newPage(dedicated, need) << slotBits
		s.pages[loc>>slotBits].used = 1
	}
	*s.key(loc) = *k
	s.write(loc, data, deadline)
	return loc
}

// replace writes a record in place of the one at loc, in the same slot
// when it fits its class, and returns the new loc.
func (s *slab) replace(loc uint32, data []byte, deadline int64) uint32 {
	used := s.used(loc)
	pg := &s.pages[loc>>slotBits]
	next := loc
	if pg.class != dedicated && classOf(slotNeed(len(data))) == pg.class {
		s.write(loc, data, deadline)
	} else {
		k := *s.key(loc)
		next = s.store(&k, data, deadline)
		s.free(loc)
	}
	if used {
		s.markUsed(next)
	}
	return next
}

// slotNeed is the size of a slot's contents for a record of n bytes.
func slotNeed(n int) int { return recordAt + uvarintLen(n) + n }

// The parts of a slot: deadline, key, then the record's length and bytes.
const (
	keyAt    = 8
	recordAt = keyAt + session.IDBytes
)

// load returns the record at loc. The bytes are the slab's own: they change
// with the next write to this slab, so callers copy what they keep before
// releasing the shard's lock.
func (s *slab) load(loc uint32) []byte {
	b := s.slot(loc)[recordAt:]
	n, k := binary.Uvarint(b)
	return b[k : k+int(n)]
}

// usedBit marks, in a slot's deadline word, a session used again after the
// request that created it (Map.LoadBinary, Map.Patch): the eviction policy
// keeps those. Deadlines stay below it (deadlineNanos).
const usedBit = 1 << 62

// deadline returns the deadline of the record at loc.
func (s *slab) deadline(loc uint32) int64 {
	return int64(binary.LittleEndian.Uint64(s.slot(loc)) &^ usedBit)
}

// used reports whether the session at loc was used again after the request
// that created it.
func (s *slab) used(loc uint32) bool {
	return binary.LittleEndian.Uint64(s.slot(loc))&usedBit != 0
}

// markUsed records that the session at loc was used again.
func (s *slab) markUsed(loc uint32) {
	b := s.slot(loc)
	binary.LittleEndian.PutUint64(b, binary.LittleEndian.Uint64(b)|usedBit)
}

// key returns the key of the session at loc, in the slot: it changes with
// the next write to this slab.
func (s *slab) key(loc uint32) *key { return (*key)(s.slot(loc)[keyAt:recordAt]) }

// size returns the bytes the slot at loc takes.
func (s *slab) size(loc uint32) int { return s.pages[loc>>slotBits].slot }

func (s *slab) slot(loc uint32) []byte {
	pg := &s.pages[loc>>slotBits]
	i := int(loc & (1<<slotBits - 1))
	return pg.mem[i*pg.slot : (i+1)*pg.slot]
}

func (s *slab) write(loc uint32, data []byte, deadline int64) {
	b := s.slot(loc)
	binary.LittleEndian.PutUint64(b, uint64(deadline))
	b = b[recordAt:]
	copy(b[binary.PutUvarint(b, uint64(len(data))):], data)
}

// alloc takes a free slot of the class, from a page with room or a new one.
func (s *slab) alloc(class int) uint32 {
	if s.classes == nil {
		s.classes = make([]sizeClass, len(slotSizes))
	}
	c := &s.classes[class]
	if len(c.partial) == 0 {
		c.partial = append(c.partial, s.newPage(class, slotSizes[class]))
		c.slots += pageSize / slotSizes[class]
	}
	n := c.partial[len(c.partial)-1]
	pg := &s.pages[n]
	i := pg.take()
	if pg.full() {
		c.partial = c.partial[:len(c.partial)-1]
	}
	c.used++
	return n<<slotBits | uint32(i)
}

func (pg *page) full() bool { return pg.used == len(pg.mem)/pg.slot }

// take hands out a slot: a freed one first, else the next fresh one.
func (pg *page) take() int {
	pg.used++
	if pg.free == noSlot {
		pg.fresh++
		return pg.fresh - 1
	}
	i := pg.free
	pg.free = int(int32(binary.LittleEndian.Uint32(pg.mem[i*pg.slot:])))
	return i
}

// free gives the slot at loc back. An empty page is released, unless it is
// the last page of its class with room (so that a store that oscillates
// around a page boundary does not map and unmap a page each time).
func (s *slab) free(loc uint32) {
	n := loc >> slotBits
	pg := &s.pages[n]
	if pg.class == dedicated {
		s.release(n)
		return
	}
	wasFull := pg.full()
	i := int(loc & (1<<slotBits - 1))
	binary.LittleEndian.PutUint32(pg.mem[i*pg.slot:], uint32(int32(pg.free)))
	pg.free = i
	pg.used--
	c := &s.classes[pg.class]
	c.used--
	s.sparse |= 1 << pg.class
	switch {
	case pg.evacuating:
		if pg.used == 0 {
			c.slots -= len(pg.mem) / pg.slot
			s.release(n)
		}
	case wasFull:
		c.partial = append(c.partial, n)
	case pg.used == 0 && len(c.partial) > 1:
		c.partial = slices.DeleteFunc(c.partial, func(p uint32) bool { return p == n })
		c.slots -= len(pg.mem) / pg.slot
		s.release(n)
	}
}

// evacuate picks the pages of a class that is more than an eighth empty
// (and by at least two pages) whose records fit in the holes of its other
// pages, marks them evacuating and reports whether there are any. The
// caller then moves every record on an evacuating page (see move); each
// such page is released when its last record leaves.
func (s *slab) evacuate() bool {
	found := false
	for s.sparse != 0 {
		class := bits.TrailingZeros64(s.sparse)
		s.sparse &^= 1 << class
		found = s.evacuateClass(class) || found
	}
	return found
}

func (s *slab) evacuateClass(class int) bool {
	c := &s.classes[class]
	perPage := pageSize / slotSizes[class]
	free := c.slots - c.used
	if free < max(2*perPage, c.slots/8) {
		return false
	}
	// The emptiest pages go first, as long as the holes left in the other
	// pages can take their records.
	slices.SortFunc(c.partial, func(a, b uint32) int { return s.pages[a].used - s.pages[b].used })
	moving, k := 0, 0
	for ; k < len(c.partial); k++ {
		pg := &s.pages[c.partial[k]]
		if moving+pg.used > free-(perPage-pg.used) {
			break
		}
		moving += pg.used
		free -= perPage - pg.used
		pg.evacuating = true
	}
	victims := c.partial[:k]
	c.partial = slices.Clone(c.partial[k:])
	for _, n := range victims {
		if s.pages[n].used == 0 {
			c.slots -= perPage
			s.release(n)
		}
	}
	return moving > 0
}

// evacuating reports whether the record at loc must move.
func (s *slab) evacuating(loc uint32) bool { return s.pages[loc>>slotBits].evacuating }

// move copies the record at loc to a slot of the same class on a page
// that stays, frees loc and returns the new loc.
func (s *slab) move(loc uint32) uint32 {
	next := s.alloc(s.pages[loc>>slotBits].class)
	copy(s.slot(next), s.slot(loc))
	s.free(loc)
	return next
}

// newPage makes a page for class with slots of slot bytes (a dedicated
// page: one slot) and returns its number.
func (s *slab) newPage(class, slot int) uint32 {
	pg := page{slot: slot, class: class, free: noSlot}
	if class == dedicated {
		pg.mem = make([]byte, slot) // large and rare: the Go heap is fine
	} else {
		pg.mem, pg.mapped = mapPage(pageSize)
	}
	if k := len(s.spare); k > 0 {
		n := s.spare[k-1]
		s.spare = s.spare[:k-1]
		s.pages[n] = pg
		return n
	}
	s.pages = append(s.pages, pg)
	return uint32(len(s.pages) - 1)
}

func (s *slab) release(n uint32) {
	if s.pages[n].mapped {
		unmapPage(s.pages[n].mem)
	}
	s.pages[n] = page{}
	s.spare = append(s.spare, n)
}

// releaseAll gives back every page; the slab is empty afterwards.
func (s *slab) releaseAll() {
	for n := range s.pages {
		if s.pages[n].mem != nil {
			s.release(uint32(n))
		}
	}
	*s = slab{}
}

func uvarintLen(n int) int {
	var b [binary.MaxVarintLen64]byte
	return binary.PutUvarint(b[:], uint64(n))
}
