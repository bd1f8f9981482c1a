package session

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"time"
)

// recordFormat is the first byte of an encoded record; bump it when the
// layout changes so old bytes fail loudly instead of decoding as garbage.
const recordFormat = 1

var errCorrupt = errors.New("session: corrupt record encoding")

// minPairSize is the fewest bytes a value pair takes: an empty key and an
// empty value, one length byte each.
const minPairSize = 2

// maxPresize bounds the values a decoder makes room for before it has
// read them; a session with more grows its map as it decodes. Sessions
// hold a few values: room for 64 costs a few KiB, not the hundreds of
// MiB a hostile count would ask for.
const maxPresize = 64

// AppendBinary appends the compact binary form of r to b. Stores that keep
// one byte string per session (memory, memcache, cookie, cluster) use it.
func (r *Record) AppendBinary(b []byte) []byte {
	b = r.appendHeader(b)
	b = binary.AppendUvarint(b, uint64(len(r.Values)))
	var small [16]string // most sessions: sorting their keys allocates nothing
	for _, k := range sortedKeys(r.Values, small[:0]) {
		b = appendString(b, k)
		b = append(binary.AppendUvarint(b, uint64(len(r.Values[k]))), r.Values[k]...)
	}
	return b
}

// appendHeader appends every field but Values.
func (r *Record) appendHeader(b []byte) []byte {
	b = append(b, recordFormat)
	b = appendString(b, r.ID)
	for _, t := range [...]time.Time{r.Created, r.Touched, r.Idle, r.Expires} {
		b = binary.AppendVarint(b, unixNano(t))
	}
	return binary.AppendUvarint(b, r.Version)
}

// MarshalBinary returns the compact binary form of r.
func (r *Record) MarshalBinary() ([]byte, error) {
	return r.AppendBinary(make([]byte, 0, r.Size())), nil
}

// Size is an upper bound of the length of r's binary form.
func (r *Record) Size() int {
	n := 1 + 5*binary.MaxVarintLen64 + len(r.ID) + 2*binary.MaxVarintLen32
	for k, v := range r.Values {
		n += 2*binary.MaxVarintLen32 + len(k) + len(v)
	}
	return n
}

// UnmarshalBinary decodes b, the output of AppendBinary, into r. Values alias
// fresh memory, never b: the keys are cut from one string copy of the values
// section and the values from one byte copy (each capped, so an append to one
// value never runs into the next), which costs two allocations however many
// values there are.
//
// b may come from a peer or a cache server, so what it allocates follows
// the bytes that are there, not the count the header claims: a count that
// the bytes cannot hold fails at once, and the map is sized for at most
// maxPresize values and grows with the values that actually decode.
func (r *Record) UnmarshalBinary(b []byte) error {
	d := decoder{b: b}
	n := r.decodeHeader(&d)
	if d.err != nil {
		return d.err
	}
	if rest := uint64(len(b) - d.off); n > rest/minPairSize {
		return fmt.Errorf("%w: %d values announced, %d bytes hold at most %d", errCorrupt, n, rest, rest/minPairSize)
	}
	if n == 0 {
		return d.end()
	}
	pairs := decoder{b: b[d.off:]}
	keys, vals := string(pairs.b), bytes.Clone(pairs.b)
	r.Values = make(map[string][]byte, min(n, maxPresize))
	for i := uint64(0); i < n && pairs.err == nil; i++ {
		k0, k1 := pairs.span()
		v0, v1 := pairs.span()
		r.Values[keys[k0:k1]] = vals[v0:v1:v1]
	}
	return pairs.end()
}

// UnmarshalHeader decodes every field of b, the output of AppendBinary,
// except Values, which it leaves nil. It reads only the start of b and
// allocates nothing but the ID, so a store that keeps records in binary form
// can check a deadline or a version without decoding the values.
func (r *Record) UnmarshalHeader(b []byte) error {
	d := decoder{b: b}
	r.decodeHeader(&d)
	return d.err
}

// decodeHeader decodes the fields before the values into r and returns the
// number of values.
func (r *Record) decodeHeader(d *decoder) uint64 {
	if d.byte() != recordFormat {
		d.err = fmt.Errorf("%w: unknown format", errCorrupt)
		return 0
	}
	i0, i1 := d.span()
	*r = Record{ID: string(d.b[i0:i1])}
	r.Created, r.Touched, r.Idle, r.Expires = d.time(), d.time(), d.time(), d.time()
	r.Version = d.uvarint()
	return d.uvarint()
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// decoder reads the binary record format from b, starting at off; the first
// error sticks and every later read returns a zero value, so callers check
// once at the end.
type decoder struct {
	b   []byte
	off int
	err error
}

func (d *decoder) fail() {
	if d.err == nil {
		d.err = fmt.Errorf("%w: truncated", errCorrupt)
	}
	d.off = len(d.b)
}

// end reports the first error, or trailing bytes.
func (d *decoder) end() error {
	if d.err == nil && d.off != len(d.b) {
		d.err = fmt.Errorf("%w: %d trailing bytes", errCorrupt, len(d.b)-d.off)
	}
	return d.err
}

func (d *decoder) byte() byte {
	if d.off >= len(d.b) {
		d.fail()
		return 0
	}
	d.off++
	return d.b[d.off-1]
}

func (d *decoder) uvarint() uint64 {
	if d.off < len(d.b) && d.b[d.off] < 0x80 { // lengths and counts: one byte
		d.off++
		return uint64(d.b[d.off-1])
	}
	v, n := binary.Uvarint(d.b[d.off:])
	if n <= 0 {
		d.fail()
		return 0
	}
	d.off += n
	return v
}

func (d *decoder) time() time.Time {
	u := d.uvarint() // zig-zag, as binary.AppendVarint writes it
	v := int64(u >> 1)
	if u&1 != 0 {
		v = ^v
	}
	if v == 0 {
		return time.Time{}
	}
	return time.Unix(0, v)
}

// span reads a length-prefixed string and returns where its bytes are in b.
func (d *decoder) span() (start, end int) {
	n := d.uvarint()
	if n > uint64(len(d.b)-d.off) {
		d.fail()
		return d.off, d.off
	}
	start = d.off
	d.off += int(n)
	return start, d.off
}

// ApplyBinary appends to dst the binary form of the record encoded in src
// with p applied: the bytes AppendBinary would write after UnmarshalBinary
// and Apply, without building the record's map. It also returns the patched
// record's fields but Values, so that a store learns its deadline and
// version without decoding what it just wrote. Stores that keep records in
// binary form (memory) patch them with it. An empty src is the zero Record
// (a new session). src must hold its keys in order, as AppendBinary and
// ApplyBinary write them; anything else fails with an error.
func (p *Patch) ApplyBinary(dst, src []byte) ([]byte, Record, error) {
	var r Record
	var small [16]string
	m := merge{p: p, set: sortedKeys(p.Set, small[:0])}
	if len(src) > 0 {
		d := decoder{b: src}
		m.count = r.decodeHeader(&d)
		if d.err != nil {
			return dst, Record{}, d.err
		}
		m.old.b = src[d.off:]
	}
	p.applyHeader(&r)
	out := append(r.appendHeader(dst), 0) // the pair count, if it takes one byte
	start := len(out)
	out, n, ok := m.run(out, true)
	if !ok {
		return dst, Record{}, fmt.Errorf("%w: pairs truncated, out of key order or followed by trailing bytes", errCorrupt)
	}
	if n < 0x80 {
		out[start-1] = byte(n)
		return out, r, nil
	}
	// A count of 128 or more takes more bytes: move the pairs up.
	count := binary.AppendUvarint(nil, uint64(n))
	out = append(out, count[1:]...)
	copy(out[start+len(count)-1:], out[start:len(out)-len(count)+1])
	copy(out[start-1:], count)
	return out, r, nil
}

// merge walks the pairs of a stored record (old, in key order) and the keys
// a patch sets (set, sorted) side by side, the way a merge sort does, to
// write the patched record's pairs in key order.
type merge struct {
	p     *Patch
	old   decoder // positioned at the first pair
	count uint64  // of pairs in old
	set   []string
}

// run appends the merged pairs to out (or only counts them, when write is
// false) and returns out and how many pairs there are; ok is false when the
// stored pairs are corrupt. It works on a copy of m, so it can run twice.
// (It returns a bool, not the decoder's error, so that the sorted keys can
// stay on the caller's stack.)
func (m merge) run(out []byte, write bool) (_ []byte, n int, ok bool) {
	var prev []byte
	for i := uint64(0); i < m.count && !m.p.Clear; i++ {
		start := m.old.off
		k0, k1 := m.old.span()
		m.old.span()
		key := m.old.b[k0:k1]
		if m.old.err != nil || i > 0 && bytes.Compare(prev, key) >= 0 {
			return out, 0, false
		}
		prev = key
		for len(m.set) > 0 && m.set[0] < string(key) {
			out, n = m.appendSet(out, write), n+1
		}
		switch {
		case len(m.set) > 0 && m.set[0] == string(key):
			out, n = m.appendSet(out, write), n+1
		case !m.deleted(key):
			if write {
				out = append(out, m.old.b[start:m.old.off]...)
			}
			n++
		}
	}
	for len(m.set) > 0 {
		out, n = m.appendSet(out, write), n+1
	}
	return out, n, m.p.Clear || m.old.end() == nil
}

// appendSet appends the first of the keys left to set with its value and
// drops it from m.set.
func (m *merge) appendSet(out []byte, write bool) []byte {
	k := m.set[0]
	m.set = m.set[1:]
	if !write {
		return out
	}
	out = appendString(out, k)
	v := m.p.Set[k]
	return append(binary.AppendUvarint(out, uint64(len(v))), v...)
}

func (m *merge) deleted(key []byte) bool {
	for _, k := range m.p.Delete {
		if k == string(key) {
			return true
		}
	}
	return false
}

// values reads the value pairs of a record in binary form where they are:
// what a Session keeps in place of Record.Values when its store is a
// BinaryLoader. Looking a key up walks the pairs, which for the few keys of
// a session costs less than building a map on every load.
type values struct {
	b []byte // the pairs, checked by unmarshalValues
	n int
}

// unmarshalValues decodes the header of b into r (Values stays nil) and
// returns its pairs, checked once so that later walks need no checks: in
// key order, no trailing bytes.
func (r *Record) unmarshalValues(b []byte) (values, error) {
	d := decoder{b: b}
	n := r.decodeHeader(&d)
	if d.err != nil {
		return values{}, d.err
	}
	m := merge{p: &Patch{}, old: decoder{b: b[d.off:]}, count: n}
	if _, _, ok := m.run(nil, false); !ok || n > uint64(len(b)) {
		return values{}, fmt.Errorf("%w: pairs truncated, out of key order or followed by trailing bytes", errCorrupt)
	}
	return values{b: b[d.off:], n: int(n)}, nil
}

// get returns the value of key; it shares v's bytes, capped.
func (v values) get(key string) ([]byte, bool) {
	d := decoder{b: v.b}
	for range v.n {
		k0, k1 := d.span()
		v0, v1 := d.span()
		if string(d.b[k0:k1]) == key {
			return d.b[v0:v1:v1], true
		}
	}
	return nil, false
}

// keys calls fn with every key, in order.
func (v values) keys(fn func(key string)) {
	d := decoder{b: v.b}
	for range v.n {
		k0, k1 := d.span()
		d.span()
		fn(string(d.b[k0:k1]))
	}
}
