package engine

import (
	"testing"
	"time"

	"github.com/sessionmesh/sessionmesh/session"
)

// BenchmarkRange walks 100k typical sessions (a user, a counter, a CSRF
// token and a flash message: about 200 bytes each) as the cluster's
// periodic walks do: decoding each whole record (Range), or only its header
// (RangeBinary with UnmarshalHeader, what anti-entropy's digests and the
// tally read). One op is one session.
func BenchmarkRange(b *testing.B) {
	const sessions = 100_000
	s, err := New(Config{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	now := time.Now()
	for range sessions {
		p := session.Patch{NewID: session.NewID(), Now: now, Idle: time.Hour, Set: map[string][]byte{
			"user":    []byte(`"someone@example.com"`),
			"counter": []byte("12345"),
			"csrf":    []byte(`"Xk2bQ9vZr7LmP4sT8wYc1nHd6fJa3eGu5oRi0lKq"`),
			"flash":   []byte(`["Your changes were saved."]`),
		}}
		if err := s.Create(p); err != nil {
			b.Fatal(err)
		}
	}
	walk := map[string]func(fn func()){
		"decode": func(fn func()) {
			s.Range(func(string, session.Record) bool { fn(); return true })
		},
		"header": func(fn func()) {
			s.RangeBinary(func(_, data []byte) bool {
				var rec session.Record
				if rec.UnmarshalHeader(data) == nil {
					fn()
				}
				return true
			}, nil)
		},
	}
	for _, name := range []string{"decode", "header"} {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			n := 0
			for n < b.N {
				walk[name](func() { n++ })
			}
		})
	}
}
