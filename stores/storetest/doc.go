// Package storetest is the conformance suite of the session.Store contract.
// Every store runs it against itself, the way slogtest checks slog handlers:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T, now func() time.Time) session.Store {
//			s, err := memory.New(memory.Config{Now: now})
//			if err != nil {
//				t.Fatal(err)
//			}
//			t.Cleanup(func() { s.Close() })
//			return s
//		})
//	}
//
// Each subtest asserts something a user of sessions relies on: values come
// back as they were set, patches merge per key, concurrent patches to
// different keys all survive, sessions end at their idle and absolute
// deadlines (on the suite's clock, never by sleeping), Renew and Destroy make
// the old token stop working, and hostile tokens (unknown, malformed,
// tampered, oversized) load as "not found" with a nil error.
//
// The suite does not assume that tokens are session IDs. A store that returns
// the session's ID as its token is a server-side store and must revoke: after
// Delete or Renew the old token loads as not found and patches on it fail
// with session.ErrNotFound. A store that returns any other token keeps the
// record in the token (the cookie store); such a store cannot revoke a copy
// of a token before its deadline, and cannot merge patches made concurrently
// on copies of one token, so those two assertions are not made for it.
package storetest
