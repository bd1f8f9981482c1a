package redis

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/sessionmesh/sessionmesh/internal/servertest"
	"github.com/sessionmesh/sessionmesh/session"
	"github.com/sessionmesh/sessionmesh/stores/internal/storetesting"
)

// TestHashLayout: another program reading Redis finds one hash per session
// under ns+ID, a readable field per key and the metadata fields.
func TestHashLayout(t *testing.T) {
	srv := servertest.Redis(t)
	s := open(t, Config{Addrs: []string{srv.Addr()}, Prefix: "app1:"})
	now := time.Now()
	p := storetesting.Patch(now, "counter", "1", "user", `{"name":"ada"}`)
	p.Lifetime = time.Hour
	id := storetesting.Create(t, s, p)

	h, err := rawClient(t, srv.Addr()).HGetAll(context.Background(), "app1:"+id).Result()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"v:counter": "1",
		"v:user":    `{"name":"ada"}`,
		"id":        id,
		"created":   strconv.FormatInt(now.UnixNano(), 10),
		"touched":   strconv.FormatInt(now.UnixNano(), 10),
		"idle":      strconv.FormatInt(now.Add(30*time.Minute).UnixNano(), 10),
		"expires":   strconv.FormatInt(now.Add(time.Hour).UnixNano(), 10),
		"version":   "1",
		"size":      "26", // len("counter1") + len(`user{"name":"ada"}`)
	}
	if fmt.Sprint(h) != fmt.Sprint(want) {
		t.Fatalf("hash = %v\nwant   %v", h, want)
	}
}

// TestServerTTL: the key's TTL runs to the session's deadline, so Redis
// frees it by itself: the idle deadline, or the absolute one when sooner, and
// a renewed session keeps its TTL.
func TestServerTTL(t *testing.T) {
	srv := servertest.Redis(t)
	s := open(t, Config{Addrs: []string{srv.Addr()}})
	raw := rawClient(t, srv.Addr())
	ctx := context.Background()
	now := time.Now()
	wantTTL := func(id string, want time.Duration) {
		t.Helper()
		got, err := raw.PTTL(ctx, "sess:"+id).Result()
		if err != nil {
			t.Fatal(err)
		}
		// Real time passes between the save and PTTL: allow a second.
		if got > want || got < want-time.Second {
			t.Fatalf("PTTL = %v; want %v (at most a second less)", got, want)
		}
	}

	idleOnly := storetesting.Create(t, s, storetesting.Patch(now, "a", "1"))
	wantTTL(idleOnly, 30*time.Minute)

	p := storetesting.Patch(now, "a", "1")
	p.Lifetime = 10 * time.Minute
	short := storetesting.Create(t, s, p)
	wantTTL(short, 10*time.Minute)

	// Five minutes later (on the Manager's clock) a touch slides the idle
	// deadline, but the lifetime still ends first: 5 minutes left.
	if _, err := s.Save(ctx, short, storetesting.Patch(now.Add(5*time.Minute))); err != nil {
		t.Fatal(err)
	}
	wantTTL(short, 5*time.Minute)

	renew := storetesting.Patch(now.Add(5 * time.Minute))
	renew.NewID = session.NewID()
	if _, err := s.Save(ctx, short, renew); err != nil {
		t.Fatal(err)
	}
	wantTTL(renew.NewID, 5*time.Minute)
	if n, _ := raw.Exists(ctx, "sess:"+short).Result(); n != 0 {
		t.Fatal("the old key still exists after renew")
	}
}

// TestOneRoundTrip: a load is one HGETALL and a save one EVALSHA, as the
// server counts them; a touch reads two metadata fields, never the values.
func TestOneRoundTrip(t *testing.T) {
	srv := servertest.Redis(t)
	s := open(t, Config{Addrs: []string{srv.Addr()}})
	raw := rawClient(t, srv.Addr())
	ctx := context.Background()
	now := time.Now()
	id := storetesting.Create(t, s, storetesting.Patch(now, "a", "1")) // also loads the scripts
	touch := storetesting.Patch(now)
	if _, err := s.Save(ctx, id, touch); err != nil {
		t.Fatal(err)
	}

	const n = 5
	if err := raw.ConfigResetStat(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		storetesting.Load(t, s, id)
		if _, err := s.Save(ctx, id, storetesting.Patch(now, "a", strconv.Itoa(i))); err != nil {
			t.Fatal(err)
		}
	}
	stats := commandStats(t, raw)
	// Inside the patch script: the deadlines and size (HMGET), the old
	// length of the one key it replaces (HSTRLEN), one HSET, the version and
	// the TTL; no HGETALL: a patch reads no values.
	want := map[string]int{"hgetall": n, "evalsha": n, "hmget": n, "hstrlen": n, "hset": n, "hdel": 0, "hincrby": n, "pexpire": n}
	for cmd, calls := range want {
		if stats[cmd] != calls {
			t.Errorf("%s called %d times for %d loads and %d saves; want %d (all stats: %v)", cmd, stats[cmd], n, n, calls, stats)
		}
	}
	if stats["eval"] != 0 {
		t.Errorf("EVAL sent %d times: the script source crossed the wire again", stats["eval"])
	}

	if err := raw.ConfigResetStat(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Save(ctx, id, storetesting.Patch(now.Add(time.Minute))); err != nil {
		t.Fatal(err)
	}
	stats = commandStats(t, raw)
	if stats["evalsha"] != 1 || stats["hmget"] != 1 || stats["hgetall"] != 0 {
		t.Fatalf("a touch ran %v; want one EVALSHA reading the deadlines with HMGET and no HGETALL", stats)
	}
}

// commandStats returns calls per command since the last CONFIG RESETSTAT,
// commands run inside scripts included, the INFO that asks excluded.
func commandStats(t *testing.T, raw interface {
	Info(context.Context, ...string) *goredis.StringCmd
}) map[string]int {
	t.Helper()
	info, err := raw.Info(context.Background(), "commandstats").Result()
	if err != nil {
		t.Fatal(err)
	}
	stats := make(map[string]int)
	for _, line := range strings.Split(info, "\r\n") {
		name, rest, ok := strings.Cut(strings.TrimPrefix(line, "cmdstat_"), ":calls=")
		if !ok || name == line {
			continue
		}
		calls, _, _ := strings.Cut(rest, ",")
		stats[name], _ = strconv.Atoi(calls)
	}
	return stats
}

// TestForeignHash: a key under the prefix that is not a session record (a
// foreign program's hash, a half-deleted one) loads as not found and cannot
// be patched.
func TestForeignHash(t *testing.T) {
	srv := servertest.Redis(t)
	s := open(t, Config{Addrs: []string{srv.Addr()}})
	raw := rawClient(t, srv.Addr())
	ctx := context.Background()
	now := time.Now()
	cases := map[string][]any{
		"no metadata":     {"v:a", "1"},
		"garbled idle":    {"id", "", "idle", "soon", "v:a", "1"},
		"negative time":   {"idle", "-5", "version", "1"},
		"other ID inside": {"id", session.NewID(), "idle", strconv.FormatInt(now.Add(time.Hour).UnixNano(), 10), "version", "1", "created", "1", "touched", "1", "expires", "0", "size", "0"},
	}
	for name, fields := range cases {
		t.Run(name, func(t *testing.T) {
			id := session.NewID()
			if err := raw.HSet(ctx, "sess:"+id, fields...).Err(); err != nil {
				t.Fatal(err)
			}
			if _, found, err := s.Load(ctx, id); found || err != nil {
				t.Fatalf("Load = found %t, %v; want not found, nil", found, err)
			}
			if name == "other ID inside" {
				return // the script trusts the key; Load guards the ID
			}
			_, err := s.Save(ctx, id, storetesting.Patch(now, "b", "2"))
			if !errors.Is(err, session.ErrNotFound) {
				t.Fatalf("Save = %v; want ErrNotFound", err)
			}
		})
	}
}

// TestManyKeys: sessions with thousands of keys are written and cleared in
// slices (Lua's unpack is bounded by its C stack).
func TestManyKeys(t *testing.T) {
	srv := servertest.Redis(t)
	s := open(t, Config{Addrs: []string{srv.Addr()}})
	ctx := context.Background()
	now := time.Now()
	var kv []string
	for i := range 5000 {
		kv = append(kv, "k"+strconv.Itoa(i), strconv.Itoa(i))
	}
	id := storetesting.Create(t, s, storetesting.Patch(now, kv[:2000]...))
	if _, err := s.Save(ctx, id, storetesting.Patch(now, kv...)); err != nil {
		t.Fatalf("patch with 5000 keys: %v", err)
	}
	if got := len(storetesting.Load(t, s, id).Values); got != 5000 {
		t.Fatalf("%d keys after the patch; want 5000", got)
	}
	clear := storetesting.Patch(now, "only", "1")
	clear.Clear = true
	if _, err := s.Save(ctx, id, clear); err != nil {
		t.Fatalf("clear of 5000 keys: %v", err)
	}
	rec := storetesting.Load(t, s, id)
	if keys := rec.Keys(); len(keys) != 1 || keys[0] != "only" {
		t.Fatalf("keys after clear = %d; want [only]", len(keys))
	}
	renew := storetesting.Patch(now, kv...)
	renew.NewID = session.NewID()
	if _, err := s.Save(ctx, id, renew); err != nil {
		t.Fatalf("renew with 5000 keys: %v", err)
	}
	if got := len(storetesting.Load(t, s, renew.NewID).Values); got != 5001 {
		t.Fatalf("%d keys after renew; want 5001", got)
	}
}

// TestSizeField: the size field that patches maintain without reading values
// always equals the length of the keys and values, through every kind of
// patch: overwrite, delete (present, missing, twice), clear with and without
// sets, delete and set of one key, touch and renew.
func TestSizeField(t *testing.T) {
	srv := servertest.Redis(t)
	s := open(t, Config{Addrs: []string{srv.Addr()}})
	raw := rawClient(t, srv.Addr())
	ctx := context.Background()
	now := time.Now()
	id := storetesting.Create(t, s, storetesting.Patch(now, "a", "1", "bb", `"two"`))
	check := func(step string) {
		t.Helper()
		h, err := raw.HGetAll(ctx, "sess:"+id).Result()
		if err != nil {
			t.Fatal(err)
		}
		want := 0
		for f, v := range h {
			if k, ok := strings.CutPrefix(f, "v:"); ok {
				want += len(k) + len(v)
			}
		}
		if h["size"] != strconv.Itoa(want) {
			t.Fatalf("after %s: size field %q; keys and values hold %d bytes", step, h["size"], want)
		}
	}
	check("create")
	steps := []struct {
		name string
		p    session.Patch
	}{
		{"overwrite", storetesting.Patch(now, "a", "12345")},
		{"add", storetesting.Patch(now, "c", "[1,2,3]", "", `""`)},
		{"delete", session.Patch{Delete: []string{"a", "missing", "a"}}},
		{"delete and set one key", session.Patch{Delete: []string{"bb"}, Set: map[string][]byte{"bb": []byte("7")}}},
		{"empty value", storetesting.Patch(now, "e", "")},
		{"delete empty value", session.Patch{Delete: []string{"e"}}},
		{"touch", session.Patch{}},
		{"clear and set", session.Patch{Clear: true, Set: map[string][]byte{"c": []byte("1"), "z": []byte("26")}}},
		{"clear", session.Patch{Clear: true}},
		{"set after clear", storetesting.Patch(now, "x", `"x"`)},
	}
	for _, st := range steps {
		st.p.Now, st.p.Idle = now, 30*time.Minute
		if _, err := s.Save(ctx, id, st.p); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		check(st.name)
	}
	renew := storetesting.Patch(now, "y", "1")
	renew.NewID = session.NewID()
	renew.Delete = []string{"x"}
	if _, err := s.Save(ctx, id, renew); err != nil {
		t.Fatal(err)
	}
	id = renew.NewID
	check("renew")
}
