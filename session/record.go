package session

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
	"time"
)

// MaxKeyLen is the longest session key Set accepts, in bytes.
const MaxKeyLen = 256

// Record is what a store keeps for one session. Values hold encoded values
// (JSON unless the Manager's Codec says otherwise); a store never decodes them.
type Record struct {
	ID      string            // the session ID (inside the sealed cookie for the cookie store)
	Values  map[string][]byte // key -> encoded value; nil when empty
	Created time.Time         // when the session was first saved
	Touched time.Time         // the last write (a patch or a touch)
	Idle    time.Time         // idle deadline: Touched + the idle timeout
	Expires time.Time         // absolute deadline; zero means none
	Version uint64            // bumped by every applied patch
}

// Deadline is the moment the record stops loading: the earlier of the idle
// and absolute deadlines.
func (r *Record) Deadline() time.Time {
	if !r.Expires.IsZero() && r.Expires.Before(r.Idle) {
		return r.Expires
	}
	return r.Idle
}

// Expired reports whether the record is past its deadline at now.
func (r *Record) Expired(now time.Time) bool {
	return !now.Before(r.Deadline())
}

// Keys returns the record's keys, sorted.
func (r *Record) Keys() []string {
	keys := make([]string, 0, len(r.Values))
	for k := range r.Values {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Clone returns a deep copy of r, so a store can hand out records that the
// caller may keep while the store goes on changing its own.
func (r Record) Clone() Record {
	if r.Values != nil {
		vals := make(map[string][]byte, len(r.Values))
		for k, v := range r.Values {
			vals[k] = append([]byte(nil), v...)
		}
		r.Values = vals
	}
	return r
}

// Patch is the change one request made to a session. The Manager builds it;
// a Store applies it with Apply, atomically against the newest stored record.
type Patch struct {
	// NewID, when set, is the ID the session is stored under from now on:
	// the ID of a new session (Save with an empty token) or the new ID of a
	// renewed one (Save with the old token; the old ID stops working).
	NewID string

	Clear  bool              // drop every stored key before applying Set
	Set    map[string][]byte // keys to write
	Delete []string          // keys to remove

	Now      time.Time     // the Manager's clock at commit time
	Idle     time.Duration // idle timeout; the idle deadline becomes Now+Idle
	Lifetime time.Duration // absolute lifetime of a new session; 0 means none
}

// IsTouch reports whether p changes nothing but the session's deadlines.
func (p *Patch) IsTouch() bool {
	return p.NewID == "" && !p.Clear && len(p.Set) == 0 && len(p.Delete) == 0
}

// Apply applies p to r in place. For a new session r is the zero Record and
// p.NewID names it. Stores call Apply under whatever lock or transaction makes
// the read-modify-write atomic.
func (p *Patch) Apply(r *Record) {
	if r.Created.IsZero() {
		r.Created = p.Now
		if p.Lifetime > 0 {
			r.Expires = p.Now.Add(p.Lifetime)
		}
	}
	if p.NewID != "" {
		r.ID = p.NewID
	}
	if p.Clear {
		r.Values = nil
	}
	for _, k := range p.Delete {
		delete(r.Values, k)
	}
	if len(p.Set) > 0 && r.Values == nil {
		r.Values = make(map[string][]byte, len(p.Set))
	}
	for k, v := range p.Set {
		r.Values[k] = v
	}
	r.Touched = p.Now
	r.Idle = p.Now.Add(p.Idle)
	r.Version++
}

// recordFormat is the first byte of an encoded record; bump it when the
// layout changes so old bytes fail loudly instead of decoding as garbage.
const recordFormat = 1

var errCorrupt = errors.New("session: corrupt record encoding")

// AppendBinary appends the compact binary form of r to b. Stores that keep
// one byte string per session (memory, memcache, cookie, cluster) use it.
func (r *Record) AppendBinary(b []byte) []byte {
	b = append(b, recordFormat)
	b = appendString(b, r.ID)
	for _, t := range [...]time.Time{r.Created, r.Touched, r.Idle, r.Expires} {
		b = binary.AppendVarint(b, unixNano(t))
	}
	b = binary.AppendUvarint(b, r.Version)
	b = binary.AppendUvarint(b, uint64(len(r.Values)))
	for _, k := range r.Keys() {
		b = appendString(b, k)
		b = appendString(b, string(r.Values[k]))
	}
	return b
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
// fresh memory, never b.
func (r *Record) UnmarshalBinary(b []byte) error {
	d := decoder{b: b}
	if d.byte() != recordFormat {
		return fmt.Errorf("%w: unknown format", errCorrupt)
	}
	*r = Record{ID: d.string()}
	r.Created, r.Touched, r.Idle, r.Expires = d.time(), d.time(), d.time(), d.time()
	r.Version = d.uvarint()
	n := d.uvarint()
	if n > uint64(len(d.b)) { // each pair takes at least two bytes
		return fmt.Errorf("%w: %d values in %d bytes", errCorrupt, n, len(d.b))
	}
	if n > 0 {
		r.Values = make(map[string][]byte, n)
	}
	for i := uint64(0); i < n && d.err == nil; i++ {
		k := d.string()
		r.Values[k] = []byte(d.string())
	}
	if d.err == nil && len(d.b) != 0 {
		d.err = fmt.Errorf("%w: %d trailing bytes", errCorrupt, len(d.b))
	}
	return d.err
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

// decoder reads the binary record format; the first error sticks and every
// later read returns a zero value, so callers check once at the end.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail() {
	if d.err == nil {
		d.err = fmt.Errorf("%w: truncated", errCorrupt)
	}
	d.b = nil
}

func (d *decoder) byte() byte {
	if len(d.b) == 0 {
		d.fail()
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) time() time.Time {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail()
		return time.Time{}
	}
	d.b = d.b[n:]
	if v == 0 {
		return time.Time{}
	}
	return time.Unix(0, v)
}

func (d *decoder) string() string {
	n := d.uvarint()
	if n > uint64(len(d.b)) {
		d.fail()
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}
