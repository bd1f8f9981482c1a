package cookie

import (
	"testing"
	"time"

	"github.com/sessionmesh/sessionmesh/session"
)

// benchRecord is a session of ~200 encoded bytes: a user, a counter, a CSRF
// token and a flash message.
func benchRecord() session.Record {
	now := time.Now()
	return session.Record{ID: session.NewID(), Created: now, Touched: now, Idle: now.Add(time.Hour), Version: 3,
		Values: map[string][]byte{
			"user":    []byte(`{"id":18734,"name":"ada"}`),
			"counter": []byte(`41`),
			"csrf":    []byte(`"Yh3k9Qd0a2ZpLk1mN0x4c3R5dWlvcDEyMzQ1Njc4"`),
			"flash":   []byte(`"Your changes were saved."`),
		}}
}

func TestBenchRecordSize(t *testing.T) {
	rec := benchRecord()
	if n := len(rec.AppendBinary(nil)); n < 180 || n > 240 {
		t.Fatalf("the benchmark session encodes to %d bytes; want ~200", n)
	}
}

func BenchmarkSeal(b *testing.B) {
	s := newStore(b, Config{Keys: []Key{testKey("k1", 1)}})
	rec := benchRecord()
	for b.Loop() {
		if _, err := s.seal(&rec); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkOpen(b *testing.B) {
	s := newStore(b, Config{Keys: []Key{testKey("k1", 1)}})
	rec := benchRecord()
	token, err := s.seal(&rec)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(len(token)), "token-bytes")
	for b.Loop() {
		if _, found, _ := s.Load(ctx, token); !found {
			b.Fatal("the cookie did not open")
		}
	}
}
