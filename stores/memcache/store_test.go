package memcache

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bradfitz/gomemcache/memcache"

	"github.com/sessionmesh/sessionmesh/internal/servertest"
	"github.com/sessionmesh/sessionmesh/session"
	"github.com/sessionmesh/sessionmesh/stores/internal/storetesting"
)

func TestExpiration(t *testing.T) {
	wall := time.Unix(1_800_000_000, 0)
	day := 24 * time.Hour
	cases := []struct {
		ttl  time.Duration
		want int32
	}{
		{time.Nanosecond, 1},
		{-time.Hour, 1}, // already past: the shortest, never 0 (= no expiry)
		{time.Second, 1},
		{1500 * time.Millisecond, 2},
		{14 * day, 14 * 86400},
		{30 * day, 30 * 86400},
		{30*day + time.Second, 1_800_000_000 + 30*86400 + 1},
		{90 * day, 1_800_000_000 + 90*86400},
		{200 * 365 * day, math.MaxInt32},
	}
	for _, c := range cases {
		if got := expiration(c.ttl, wall); got != c.want {
			t.Errorf("expiration(%v) = %d; want %d", c.ttl, got, c.want)
		}
	}
}

// TestServerExpiry: memcached holds each item until the session's deadline,
// by its own clock, including TTLs over 30 days (which must be sent as an
// absolute time, or memcached would read them as a date in 1970 and drop the
// item at once).
func TestServerExpiry(t *testing.T) {
	srv := servertest.Memcached(t)
	s := open(t, Config{Servers: []string{srv.Addr()}})
	day := 24 * time.Hour
	for _, idle := range []time.Duration{30 * time.Minute, 14 * day, 30 * day, 60 * day, 400 * day} {
		t.Run(idle.String(), func(t *testing.T) {
			p := storetesting.Patch(time.Now())
			p.Idle = idle
			id := storetesting.Create(t, s, p)
			storetesting.Load(t, s, id)
			exp, ok := itemExpiry(t, srv.Addr(), "sess:"+id)
			if !ok {
				t.Fatal("memcached does not hold the item")
			}
			want := time.Now().Add(idle)
			if d := exp.Sub(want); d < -3*time.Second || d > 3*time.Second {
				t.Fatalf("memcached expires the item at %v; want about %v", exp, want)
			}
		})
	}
	// The absolute lifetime ends first: the item goes with it.
	p := storetesting.Patch(time.Now())
	p.Idle, p.Lifetime = 60*day, time.Hour
	id := storetesting.Create(t, s, p)
	exp, _ := itemExpiry(t, srv.Addr(), "sess:"+id)
	if d := time.Until(exp); d < time.Hour-3*time.Second || d > time.Hour+3*time.Second {
		t.Fatalf("item with a 1h lifetime expires in %v", d)
	}
}

// itemExpiry asks memcached when it will drop key, with the meta debug
// command: "ME <key> exp=<seconds> ..." ("EN" for no such item). This
// memcached prints the seconds left as a negative number (the age of the
// expiry time); either sign is read as time left, since the item is live.
func itemExpiry(t *testing.T, addr, key string) (time.Time, bool) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(conn, "me %s\r\n", key)
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		t.Fatalf("me %s: %v", key, err)
	}
	fields := strings.Fields(line)
	if len(fields) < 3 || fields[0] != "ME" {
		return time.Time{}, false
	}
	v, ok := strings.CutPrefix(fields[2], "exp=")
	n, err := strconv.ParseInt(v, 10, 64)
	if !ok || err != nil {
		t.Fatalf("me %s: unexpected reply %q", key, line)
	}
	if n < 0 {
		n = -n
	}
	return time.Now().Add(time.Duration(n) * time.Second), true
}

// TestCASConflict: a writer that changes the session between every gets and
// cas makes the save fail with ErrConflict after CASRetries tries, writing
// nothing of its patch; one that interferes once only costs a retry, and
// both changes survive.
func TestCASConflict(t *testing.T) {
	srv := servertest.Memcached(t)
	s := open(t, Config{Servers: []string{srv.Addr()}, CASRetries: 4})
	raw := memcache.New(srv.Addr())
	defer raw.Close()
	ctx := context.Background()
	now := time.Now()
	id := storetesting.Create(t, s, storetesting.Patch(now, "a", "1"))

	interloper := func(key, value string) {
		it, err := raw.Get("sess:" + id)
		if err != nil {
			t.Errorf("interloper get: %v", err)
			return
		}
		var rec session.Record
		if err := rec.UnmarshalBinary(it.Value); err != nil {
			t.Errorf("interloper decode: %v", err)
			return
		}
		p := storetesting.Patch(now, key, value)
		p.Apply(&rec)
		it.Value, _ = rec.MarshalBinary()
		if err := raw.CompareAndSwap(it); err != nil {
			t.Errorf("interloper cas: %v", err)
		}
	}

	tries := 0
	s.beforeCAS = func() { tries++; interloper("other", strconv.Itoa(tries)) }
	_, err := s.Save(ctx, id, storetesting.Patch(now, "mine", "1"))
	if !errors.Is(err, ErrConflict) || tries != 4 {
		t.Fatalf("Save under constant conflict: %v after %d tries; want ErrConflict after 4", err, tries)
	}
	rec := storetesting.Load(t, s, id)
	if _, ok := rec.Values["mine"]; ok {
		t.Fatal("the refused patch was written")
	}

	tries = 0
	s.beforeCAS = func() {
		tries++
		if tries == 1 {
			interloper("once", "1")
		}
	}
	if _, err := s.Save(ctx, id, storetesting.Patch(now, "mine", "2")); err != nil {
		t.Fatalf("Save after one conflict: %v", err)
	}
	rec = storetesting.Load(t, s, id)
	for _, k := range []string{"a", "other", "once", "mine"} {
		if _, ok := rec.Values[k]; !ok {
			t.Errorf("key %q lost (keys %v); want every writer's change", k, rec.Keys())
		}
	}
}

// TestServerItemLimit: a session under MaxSessionBytes that memcached still
// refuses (its item limit, -I, default 1 MiB) fails with ErrTooLarge and
// leaves the stored session as it was.
func TestServerItemLimit(t *testing.T) {
	srv := servertest.Memcached(t)
	s := open(t, Config{Servers: []string{srv.Addr()}, MaxSessionBytes: 4 << 20})
	id := storetesting.Create(t, s, storetesting.Patch(time.Now(), "a", "1"))
	big := `"` + strings.Repeat("x", 2<<20) + `"`
	_, err := s.Save(context.Background(), id, storetesting.Patch(time.Now(), "big", big))
	if !errors.Is(err, session.ErrTooLarge) {
		t.Fatalf("Save of a 2 MiB session: %v; want ErrTooLarge", err)
	}
	if rec := storetesting.Load(t, s, id); len(rec.Values) != 1 || rec.Version != 1 {
		t.Fatalf("after the refused save: keys %v version %d; want [a] and 1", rec.Keys(), rec.Version)
	}
	fresh := storetesting.Patch(time.Now(), "big", big)
	fresh.NewID = session.NewID()
	if _, err := s.Save(context.Background(), "", fresh); !errors.Is(err, session.ErrTooLarge) {
		t.Fatalf("create of a 2 MiB session: %v; want ErrTooLarge", err)
	}
}

// TestForeignItem: an item under the prefix that is not this session's
// record loads as not found and cannot be patched.
func TestForeignItem(t *testing.T) {
	srv := servertest.Memcached(t)
	s := open(t, Config{Servers: []string{srv.Addr()}})
	raw := memcache.New(srv.Addr())
	defer raw.Close()
	other := session.Record{ID: session.NewID(), Idle: time.Now().Add(time.Hour)}
	otherBytes, _ := other.MarshalBinary()
	for name, value := range map[string][]byte{"garbage": []byte("hello"), "empty": nil, "another session": otherBytes} {
		t.Run(name, func(t *testing.T) {
			id := session.NewID()
			if err := raw.Set(&memcache.Item{Key: "sess:" + id, Value: value}); err != nil {
				t.Fatal(err)
			}
			if _, found, err := s.Load(context.Background(), id); found || err != nil {
				t.Fatalf("Load = found %t, %v; want not found, nil", found, err)
			}
			_, err := s.Save(context.Background(), id, storetesting.Patch(time.Now(), "a", "1"))
			if !errors.Is(err, session.ErrNotFound) {
				t.Fatalf("Save = %v; want ErrNotFound", err)
			}
		})
	}
}

// TestClosed: after Close every call fails with session.ErrClosed and
// Close stays idempotent.
func TestClosed(t *testing.T) {
	srv := servertest.Memcached(t)
	s := open(t, Config{Servers: []string{srv.Addr()}})
	storetesting.WantClosed(t, s, storetesting.Create(t, s, storetesting.Patch(time.Now(), "a", "1")))
}
