package cookie

import (
	"testing"
	"time"

	"github.com/sessionmesh/sessionmesh/session"
)

// Cookies sealed at fuzzNow by fuzzConfig's keys "k1" and "old". They are
// constants because every fuzzing worker process runs the setup again, and a
// cookie sealed there (with a fresh random nonce) would be unknown to the
// others.
var fuzzCookies = map[string]bool{
	"AQJrMSz4tPiq_LFuQUUR0-egI6Qm6PyiZCUFbRip2va1X1Ane-sPmcIWeKeXWPTIdPT7gbr0sa1cYa-wLrx5N-mc9aE5OYqQBaMJsOwBrG6KaP7TNHck2-e405J5vEpR_D8HGLDZ1uPr3DB7AIRY_BKowfzHtA":  true,
	"AQNvbGRz5VF6Nc7zicw9JPb4sCnbg0D6mMuH9KBMJqNuOulW9NNMJ4lPm2kLZC_GG5-S40qvxsGYiOa4jtC75I_X1FJvO1UTTxq-UAYDKyU9HIsJBvYtQeSaUtee045rerVo91CR27dj7Vm9HdtN3G9P1BZYYLQ": true,
}

var fuzzNow = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

func fuzzConfig() Config {
	return Config{Keys: []Key{testKey("k1", 1), testKey("old", 2)}, Now: func() time.Time { return fuzzNow }}
}

// FuzzOpen feeds arbitrary cookie values to Load and Save. No input may
// panic or return an error from Load, and only the cookies the store sealed
// itself may open: GCM makes any other one fail.
func FuzzOpen(f *testing.F) {
	s := newStore(f, fuzzConfig())
	valid := fuzzCookies
	for token := range valid {
		if _, found, _ := s.Load(ctx, token); !found {
			f.Fatalf("seed cookie %.20q... does not open: was the envelope or record format changed?", token)
		}
		f.Add(token)
		f.Add(token[:len(token)/2])
		f.Add(token + "A")
	}
	for _, seed := range []string{"", "A", "AQ", "AQJrMQ", "AQNvbGQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "%%%", "AQJrMQ=="} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, token string) {
		rec, found, err := s.Load(ctx, token)
		if err != nil {
			t.Fatalf("Load(%q): %v", token, err)
		}
		if found != valid[token] {
			t.Fatalf("Load(%q) found=%t; only the store's own cookies open", token, found)
		}
		if found && !session.ValidID(rec.ID) {
			t.Fatalf("Load(%q) gave a malformed ID %q", token, rec.ID)
		}
		_, err = s.Save(ctx, token, session.Patch{Now: fuzzNow, Idle: time.Hour})
		if token != "" && (err == nil) != found {
			t.Fatalf("Save(%q): %v; want success exactly when the cookie opens", token, err)
		}
	})
}
