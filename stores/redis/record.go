package redis

import (
	"strconv"
	"time"

	"github.com/sessionmesh/sessionmesh/session"
)

// valuePrefix starts the hash field of every session key, so that no key a
// user chooses ("id", "version") can collide with a metadata field.
const valuePrefix = "v:"

// The metadata fields of a session hash. Times are Unix nanoseconds in
// decimal, "0" for none. size is the total length of the keys and values,
// which the scripts keep up to date so a patch need not read every value to
// enforce MaxSessionBytes.
const (
	fieldID      = "id"
	fieldCreated = "created"
	fieldTouched = "touched"
	fieldIdle    = "idle"
	fieldExpires = "expires"
	fieldVersion = "version"
	fieldSize    = "size"
)

// hashArgs returns r as HSET field/value arguments.
func hashArgs(r *session.Record) []any {
	args := make([]any, 0, 14+2*len(r.Values))
	args = append(args,
		fieldID, r.ID,
		fieldCreated, nanos(r.Created),
		fieldTouched, nanos(r.Touched),
		fieldIdle, nanos(r.Idle),
		fieldExpires, nanos(r.Expires),
		fieldVersion, strconv.FormatUint(r.Version, 10),
		fieldSize, strconv.Itoa(valuesSize(r.Values)))
	for k, v := range r.Values {
		args = append(args, valuePrefix+k, v)
	}
	return args
}

// parseHash decodes what HGETALL returned. ok is false for an empty hash and
// for one that is not a session record (a missing or garbled metadata field):
// both load as "not found".
func parseHash(h map[string]string) (r session.Record, ok bool) {
	var p fieldParser
	r.ID = h[fieldID]
	r.Created = p.time(h, fieldCreated)
	r.Touched = p.time(h, fieldTouched)
	r.Idle = p.time(h, fieldIdle)
	r.Expires = p.time(h, fieldExpires)
	r.Version = p.uint(h, fieldVersion)
	p.uint(h, fieldSize) // kept by the scripts; a hash without it is not ours
	if p.bad || r.ID == "" || r.Idle.IsZero() {
		return session.Record{}, false
	}
	for f, v := range h {
		if len(f) >= len(valuePrefix) && f[:len(valuePrefix)] == valuePrefix {
			if r.Values == nil {
				r.Values = make(map[string][]byte)
			}
			r.Values[f[len(valuePrefix):]] = []byte(v)
		}
	}
	return r, true
}

// fieldParser parses metadata fields; the first failure sticks in bad.
type fieldParser struct{ bad bool }

func (p *fieldParser) time(h map[string]string, field string) time.Time {
	n, err := strconv.ParseInt(h[field], 10, 64)
	if err != nil || n < 0 {
		p.bad = true
		return time.Time{}
	}
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n)
}

func (p *fieldParser) uint(h map[string]string, field string) uint64 {
	n, err := strconv.ParseUint(h[field], 10, 64)
	p.bad = p.bad || err != nil
	return n
}

// nanos formats t for a metadata field.
func nanos(t time.Time) string {
	if t.IsZero() {
		return "0"
	}
	return strconv.FormatInt(t.UnixNano(), 10)
}

// valuesSize is what MaxSessionBytes counts: the length of every key and
// value. The scripts count the same way.
func valuesSize(vals map[string][]byte) int {
	n := 0
	for k, v := range vals {
		n += len(k) + len(v)
	}
	return n
}

// ttlMillis is d in whole milliseconds, rounded up, at least 1, so that the
// server always holds a TTL that ends with the session.
func ttlMillis(d time.Duration) int64 {
	ms := (d + time.Millisecond - 1) / time.Millisecond
	return max(int64(ms), 1)
}
