package storetest_test

import (
	"context"
	"errors"
	"flag"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/sessionmesh/sessionmesh/session"
	"github.com/sessionmesh/sessionmesh/stores/memory"
	"github.com/sessionmesh/sessionmesh/stores/storetest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var brokenFlag = flag.String("broken", "", "run the suite against this broken store (set by TestSuiteCatchesBrokenStores in a child process)")

// brokenStore is the real memory store with one bug a store author could
// make, and the subtest of the suite that must catch it.
type brokenStore struct {
	catches string
	open    func(t *testing.T, now func() time.Time) session.Store
}

var brokenStores = map[string]brokenStore{
	"correct": {"", func(t *testing.T, now func() time.Time) session.Store {
		return newMemory(t, memory.Config{Now: now})
	}},
	"adopts unknown IDs": {"UnknownToken", func(t *testing.T, now func() time.Time) session.Store {
		return adopter{newMemory(t, memory.Config{Now: now})}
	}},
	"cannot delete": {"Destroy", func(t *testing.T, now func() time.Time) session.Store {
		return noDelete{newMemory(t, memory.Config{Now: now})}
	}},
	"expires a millisecond late": {"IdleExpiry", func(t *testing.T, now func() time.Time) session.Store {
		return newMemory(t, memory.Config{Now: func() time.Time { return now().Add(-time.Millisecond) }})
	}},
	"ignores deletes in a patch": {"PatchMerge", func(t *testing.T, now func() time.Time) session.Store {
		return dropDeletes{newMemory(t, memory.Config{Now: now})}
	}},
	"has no size limit": {"TooLarge", func(t *testing.T, now func() time.Time) session.Store {
		return newMemory(t, memory.Config{MaxSessionBytes: 8 << 20, Now: now})
	}},
	"trims tokens": {"MalformedTokens", func(t *testing.T, now func() time.Time) session.Store {
		return trimmer{newMemory(t, memory.Config{Now: now})}
	}},
}

// The suite passes a correct store and fails each broken one in the subtest
// meant to catch its bug. Each run happens in a child process, so that the
// failures it must produce do not fail this test.
func TestSuiteCatchesBrokenStores(t *testing.T) {
	if *brokenFlag != "" {
		storetest.Run(t, brokenStores[*brokenFlag].open)
		return
	}
	if testing.Short() {
		t.Skip("storetest: needs child processes of this test binary; run without -short (scripts/test.sh)")
	}
	for name, b := range brokenStores {
		t.Run(strings.ReplaceAll(name, " ", "_"), func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestSuiteCatchesBrokenStores$", "-test.v", "-broken="+name)
			out, err := cmd.CombinedOutput()
			switch {
			case b.catches == "" && err != nil:
				t.Fatalf("the suite failed the correct memory store: %v\n%s", err, out)
			case b.catches == "":
			case err == nil:
				t.Fatalf("the suite passed a store that %s", name)
			case !strings.Contains(string(out), "--- FAIL: TestSuiteCatchesBrokenStores/"+b.catches+" "):
				t.Fatalf("the store that %s did not fail subtest %s:\n%s", name, b.catches, out)
			}
		})
	}
}

func newMemory(t *testing.T, cfg memory.Config) *memory.Store {
	s, err := memory.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// adopter creates a session under an unknown ID instead of refusing it.
type adopter struct{ *memory.Store }

func (a adopter) Save(ctx context.Context, token string, p session.Patch) (string, error) {
	newToken, err := a.Store.Save(ctx, token, p)
	if errors.Is(err, session.ErrNotFound) && session.ValidID(token) && p.NewID == "" {
		p.NewID = token
		return a.Store.Save(ctx, "", p)
	}
	return newToken, err
}

type noDelete struct{ *memory.Store }

func (noDelete) Delete(context.Context, string) error { return nil }

type dropDeletes struct{ *memory.Store }

func (d dropDeletes) Save(ctx context.Context, token string, p session.Patch) (string, error) {
	p.Delete = nil
	return d.Store.Save(ctx, token, p)
}

type trimmer struct{ *memory.Store }

func (tr trimmer) Load(ctx context.Context, token string) (session.Record, bool, error) {
	return tr.Store.Load(ctx, strings.TrimSpace(token))
}

// TestClock: a Clock stands where NewClock put it until Advance moves it,
// so a test of a TTL moves time instead of sleeping.
func TestClock(t *testing.T) {
	start := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	c := storetest.NewClock(start)
	if !c.Now().Equal(start) {
		t.Fatalf("Now = %v; want the start %v", c.Now(), start)
	}
	c.Advance(90 * time.Minute)
	if want := start.Add(90 * time.Minute); !c.Now().Equal(want) {
		t.Fatalf("Now after Advance(90m) = %v; want %v", c.Now(), want)
	}
	var zero storetest.Clock
	if !zero.Now().Equal(time.Unix(0, 0)) {
		t.Fatalf("the zero Clock reads %v; want the Unix epoch", zero.Now())
	}
}
