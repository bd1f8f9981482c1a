package session

import (
	"slices"
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
	Touched time.Time         // the last write (a patch or a touch); Patch.Apply never moves it back
	Idle    time.Time         // idle deadline: the last write's Patch.Now + the idle timeout
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
	return sortedKeys(r.Values, make([]string, 0, len(r.Values)))
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

	// Expires, when not zero, becomes the session's absolute deadline,
	// new or not (for a new one it wins over Lifetime): how a request
	// gives an existing session another lifetime (Session.SetTimeouts).
	// Zero leaves the deadline as it is.
	Expires time.Time
}

// IsTouch reports whether p does nothing but slide the session's idle
// deadline.
func (p *Patch) IsTouch() bool {
	return p.NewID == "" && !p.Clear && len(p.Set) == 0 && len(p.Delete) == 0 && p.Expires.IsZero()
}

// Apply applies p to r in place. For a new session r is the zero Record and
// p.NewID names it. Stores call Apply under whatever lock or transaction makes
// the read-modify-write atomic.
func (p *Patch) Apply(r *Record) {
	p.applyHeader(r)
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
}

// applyHeader applies what p does to every field but Values.
func (p *Patch) applyHeader(r *Record) {
	if r.Created.IsZero() {
		r.Created = p.Now
		if p.Lifetime > 0 {
			r.Expires = p.Now.Add(p.Lifetime)
		}
	}
	if !p.Expires.IsZero() {
		r.Expires = p.Expires
	}
	if p.NewID != "" {
		r.ID = p.NewID
	}
	// Touched never goes back: of two writes through different workers,
	// the one that reaches the store second may carry the earlier Now, and
	// a later version touched earlier would read, to a repair comparing
	// copies, as a write the newer copy lacks. The idle deadline stays the
	// writer's: a worker whose clock runs ahead must not lengthen the idle
	// timeout of every later write.
	if p.Now.After(r.Touched) {
		r.Touched = p.Now
	}
	r.Idle = p.Now.Add(p.Idle)
	r.Version++
}

// sortedKeys appends the keys of m to keys and sorts them.
func sortedKeys[V any](m map[string]V, keys []string) []string {
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
