package test

import (
	"context"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/sessionmesh/sessionmesh/internal/testutil"
	"github.com/sessionmesh/sessionmesh/test/worker"
)

// TestBrowserStatusPage drives headless Chromium (Debian's chromium,
// scripts/install-deps.sh) over a three-worker cluster: the status page of
// one worker's admin listener shows three members, the sessions the test
// made (each held by Replicas members) and a ring with three owners; after
// a worker is killed the page, refreshing itself, shows two members and
// the arcs moved. Then the demo's page counts 1, 2, 3 as the increment
// button is clicked. Screenshots go to $SESSIONMESH_ARTIFACTS (default: a
// temporary directory, logged). Without chromium the test fails: only
// go test -short, which starts no process, skips it.
func TestBrowserStatusPage(t *testing.T) {
	chrome := chromiumPath(t)
	dir := artifactsDir(t)
	p := worker.Start(t, 3, worker.Config{Env: worker.ClusterEnv(worker.NewSecret())})
	waitClusterFormed(t, p, 3)
	const users, replicas = 12, 2 // replicas: the cluster's default
	for i, url := range slices.Repeat(p.URLs(), users/3) {
		if n, by := newBrowser(t).counter(url + "/"); n != 1 {
			t.Fatalf("user %d: GET %s/ (served by %s) = %d, want 1", i, url, by, n)
		}
	}

	ctx := newChrome(t, chrome)
	ws := p.Workers()
	run(t, ctx, "load the status page", chromedp.Navigate(ws[0].AdminURL()+"/cluster"))
	before := waitPage(t, ctx, "three members holding every session's copies", func(s pageState) error {
		if s.Members != 3 || len(s.Ring) != 3 || s.sessions() != users*replicas {
			return fmt.Errorf("want 3 members, 3 owners on the ring and %d sessions", users*replicas)
		}
		return nil
	})
	screenshot(t, ctx, dir, "status-3-members.png")

	ws[2].Kill()
	waitPage(t, ctx, "two members after a crash, the arcs moved", func(s pageState) error {
		if s.Members != 2 || len(s.Ring) != 2 {
			return fmt.Errorf("want 2 members and 2 owners on the ring")
		}
		for name, dashes := range s.Ring {
			if before.Ring[name] == dashes {
				return fmt.Errorf("%s's arcs did not move", name)
			}
		}
		return nil
	})
	screenshot(t, ctx, dir, "status-2-members.png")

	run(t, ctx, "load the demo's page", chromedp.Navigate(ws[0].URL()+"/"))
	waitCounter(t, ctx, "1")
	for _, want := range []string{"2", "3"} {
		run(t, ctx, "click increment", chromedp.Click(chromedp.ID("increment")))
		waitCounter(t, ctx, want)
	}
	screenshot(t, ctx, dir, "demo.png")
}

// chromiumPath returns the Chromium binary; without one the test fails
// (CI installs it), except under -short, which skips.
func chromiumPath(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("browser: starts Chromium and demo workers; run without -short")
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if path, err := exec.LookPath(name); err == nil {
			return path
		}
	}
	t.Fatal("browser: no chromium in PATH; install it with scripts/install-deps.sh (Debian package chromium)")
	return ""
}

// artifactsDir returns where the screenshots go: $SESSIONMESH_ARTIFACTS,
// or a temporary directory that outlives the test.
func artifactsDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("SESSIONMESH_ARTIFACTS")
	var err error
	if dir == "" {
		dir, err = os.MkdirTemp("", "sessionmesh-artifacts-")
	} else {
		err = os.MkdirAll(dir, 0o755)
	}
	if err != nil {
		t.Fatalf("artifacts directory: %v", err)
	}
	t.Logf("screenshots in %s (set SESSIONMESH_ARTIFACTS to choose)", dir)
	return dir
}

// newChrome starts headless Chromium with a laptop-sized window; it is
// stopped when the test ends.
func newChrome(t *testing.T, path string) context.Context {
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path), chromedp.NoSandbox, chromedp.WindowSize(1280, 960))
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(alloc)
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	// The first Do starts the browser, which lives as long as the context
	// of that call: no timeout on it.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("browser: start %s: %v", path, err)
	}
	return ctx
}

// run runs actions with a bound, failing the test with what it was doing.
func run(t *testing.T, ctx context.Context, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		t.Fatalf("browser: %s: %v", what, err)
	}
}

// pageState is what the status page shows, read from its DOM.
type pageState struct {
	Members  int               `json:"members"`
	Sessions []int             `json:"sessions"` // per member row
	Ring     map[string]string `json:"ring"`     // owner -> its arcs (dashes) on the primary ring
}

func (s pageState) sessions() int {
	sum := 0
	for _, n := range s.Sessions {
		sum += n
	}
	return sum
}

const readPage = `(() => {
  const main = document.getElementById("status");
  const rows = [...document.querySelectorAll("tr.member")];
  const ring = {};
  for (const c of document.querySelectorAll("circle.arc[data-ring='0']")) ring[c.dataset.member] = c.dataset.dashes;
  return {members: main ? +main.dataset.members : 0, sessions: rows.map(r => +r.dataset.sessions), ring};
})()`

// waitPage waits until the page, as it refreshes itself, satisfies cond,
// and returns what it showed then.
func waitPage(t *testing.T, ctx context.Context, what string, cond func(pageState) error) pageState {
	t.Helper()
	var s pageState
	testutil.EventuallyNil(t, 30*time.Second, "the status page to show "+what, func() error {
		var err error
		if s, err = chromedp.Run(ctx, chromedp.Evaluate[pageState](readPage)); err != nil {
			return err
		}
		if err := cond(s); err != nil {
			return fmt.Errorf("%w; it shows %d members, sessions %v, ring owners %v", err, s.Members, s.Sessions, slices.Sorted(maps.Keys(s.Ring)))
		}
		return nil
	})
	return s
}

// waitCounter waits until the demo's page shows the counter want.
func waitCounter(t *testing.T, ctx context.Context, want string) {
	t.Helper()
	testutil.EventuallyNil(t, 10*time.Second, "the demo's page to show counter "+want, func() error {
		got, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById("counter")?.textContent ?? ""`))
		if err == nil && got != want {
			err = fmt.Errorf("it shows %q", got)
		}
		return err
	})
}

// screenshot saves the browser's window as a PNG in dir.
func screenshot(t *testing.T, ctx context.Context, dir, name string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err == nil {
		err = os.WriteFile(filepath.Join(dir, name), png, 0o644)
	}
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
}
