package session_test

import (
	"testing"
	"time"

	"github.com/sessionmesh/sessionmesh/session"
)

// typicalRecord is a ~200-byte session: a user, a counter, a CSRF token and
// a flash message (the memory store's benchmarks use the same values).
func typicalRecord() session.Record {
	return session.Record{
		ID: session.NewID(),
		Values: map[string][]byte{
			"user":    []byte(`{"id":18734,"name":"ada"}`),
			"counter": []byte(`41`),
			"csrf":    []byte(`"Yh3k9Qd0a2ZpLk1mN0x4c3R5dWlvcDEyMzQ1Njc4"`),
			"flash":   []byte(`"Your changes were saved."`),
		},
		Created: t0, Touched: t0.Add(time.Minute), Idle: t0.Add(time.Hour), Version: 12,
	}
}

func BenchmarkRecordUnmarshal(b *testing.B) {
	rec := typicalRecord()
	data, _ := rec.MarshalBinary()
	b.ReportAllocs()
	for b.Loop() {
		var got session.Record
		if err := got.UnmarshalBinary(data); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRecordAppend(b *testing.B) {
	rec := typicalRecord()
	buf := make([]byte, 0, 512)
	b.ReportAllocs()
	for b.Loop() {
		buf = rec.AppendBinary(buf[:0])
	}
}

// BenchmarkPatch compares the two ways a store that keeps records in binary
// form can apply a counter patch: decode, Apply and re-encode, or
// ApplyBinary.
func BenchmarkPatch(b *testing.B) {
	rec := typicalRecord()
	src, _ := rec.MarshalBinary()
	p := session.Patch{Set: map[string][]byte{"counter": []byte("42")}, Now: t0, Idle: time.Hour}
	buf := make([]byte, 0, 512)
	b.Run("decode-apply-encode", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var r session.Record
			if err := r.UnmarshalBinary(src); err != nil {
				b.Fatal(err)
			}
			p.Apply(&r)
			buf = r.AppendBinary(buf[:0])
		}
	})
	b.Run("ApplyBinary", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var err error
			if buf, _, err = p.ApplyBinary(buf[:0], src); err != nil {
				b.Fatal(err)
			}
		}
	})
}
