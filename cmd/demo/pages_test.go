package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionmesh/sessionmesh/cluster"
	"github.com/sessionmesh/sessionmesh/internal/testutil"
	"github.com/sessionmesh/sessionmesh/session"
	"github.com/sessionmesh/sessionmesh/stores"
)

// htmlAccept is what Chromium sends when it loads a page.
const htmlAccept = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"

func TestWantsHTML(t *testing.T) {
	for accept, want := range map[string]bool{
		"":                 false,
		"*/*":              false, // curl
		"application/json": false,
		"text/plain":       false,
		htmlAccept:         true,
		"text/html":        true,
		"TEXT/HTML; q=0.5": true,
		"text/htmlx":       false,
	} {
		r, _ := http.NewRequest("GET", "/", nil)
		r.Header.Set("Accept", accept)
		if got := wantsHTML(r); got != want {
			t.Errorf("wantsHTML(Accept: %q) = %v, want %v", accept, got, want)
		}
	}
	r, _ := http.NewRequest("GET", "/", nil)
	r.Header.Set("Accept", "*/*")
	if n := testing.AllocsPerRun(100, func() { wantsHTML(r) }); n != 0 {
		t.Errorf("wantsHTML(curl's Accept) allocates %v times, want 0: it is on every request", n)
	}
}

// A browser gets the demo's page with the same counter a script gets as a
// number; a script's answer stays byte for byte what it was.
func TestCounterPageForBrowsers(t *testing.T) {
	f := newFixture(t)
	b := f.browser(t)
	code, page, resp := b.getWith("/", htmlAccept)
	if code != 200 || !strings.Contains(page, `id="counter">1<`) || !strings.Contains(page, `id="served-by">w-test<`) {
		t.Fatalf("GET / as a browser = %d, want the page with counter 1 served by w-test:\n%s", code, page)
	}
	checkPageHeaders(t, resp, page)
	if !strings.Contains(resp.Header.Get("Vary"), "Accept") {
		t.Errorf("GET / Vary = %q, want Accept in it", resp.Header.Values("Vary"))
	}
	b.expect("/", 200, "2\n")
	if code, page, _ := b.getWith("/peek", htmlAccept); code != 200 || !strings.Contains(page, `id="counter">2<`) {
		t.Fatalf("GET /peek as a browser = %d, want the page with counter 2:\n%s", code, page)
	}
	if strings.Contains(page, "status-link") {
		t.Errorf("a demo without an admin listener links to a status page")
	}
}

// A browser's login and logout forms come back to the page (303 to
// /peek, which counts nothing), and what the user typed is escaped.
func TestLoginFormForBrowsers(t *testing.T) {
	f := newFixture(t)
	b := f.browser(t)
	b.c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	b.expect("/", 200, "1\n")
	user := `<script>alert("x")</script>`
	req, _ := http.NewRequest("POST", b.url+"/login", strings.NewReader(url.Values{"user": {user}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", htmlAccept)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	resp, err := b.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/peek" {
		t.Fatalf("POST /login as a browser = %d to %q, want 303 to /peek", resp.StatusCode, resp.Header.Get("Location"))
	}
	_, page, _ := b.getWith("/peek", htmlAccept)
	if strings.Contains(page, user) || !strings.Contains(page, "&lt;script&gt;") || !strings.Contains(page, `id="counter">1<`) {
		t.Fatalf("the page after login does not show the user escaped, counter 1:\n%s", page)
	}
	if !strings.Contains(page, `action="/logout"`) {
		t.Errorf("a logged-in page has no logout form:\n%s", page)
	}
}

// A signed-in user's page lists their sessions, by ID hash, marking the
// one of this device, under the page's strict CSP; "log out everywhere"
// from the page ends them all. The plain answer to curl is unchanged.
func TestCounterPageListsTheUsersSessions(t *testing.T) {
	f := newFixture(t)
	phone, laptop := f.browser(t), f.browser(t)
	phone.login("alice")
	laptop.login("alice")
	f.browser(t).login("bob")
	code, page, resp := phone.getWith("/peek", htmlAccept)
	if code != 200 || strings.Count(page, "<tr><td><code>") != 2 {
		t.Fatalf("GET /peek as alice's browser = %d; want her 2 sessions listed:\n%s", code, page)
	}
	checkPageHeaders(t, resp, page)
	this := `<tr><td><code>` + session.IDHash(phone.sid()) + `</code>`
	other := `<code>` + session.IDHash(laptop.sid()) + `</code>`
	if i := strings.Index(page, this); i < 0 || !strings.Contains(page[i:], `id="this-device"`) || !strings.Contains(page, other) {
		t.Fatalf("the page does not list this device's session (marked) and the laptop's:\n%s", page)
	}
	if strings.Contains(page, phone.sid()) {
		t.Fatal("the page shows a session ID, not its hash")
	}
	if !strings.Contains(page, `action="/logout-everywhere"`) {
		t.Fatal("no log out everywhere button without a revoke store, though the store lists sessions")
	}
	phone.expect("/peek", 200, "0\n")
	if code, _ := phone.post("/logout-everywhere", nil); code != 200 {
		t.Fatalf("POST /logout-everywhere = %d", code)
	}
	if _, page, _ := laptop.getWith("/peek", htmlAccept); strings.Contains(page, `id="sessions"`) {
		t.Fatalf("the laptop still lists sessions after log out everywhere:\n%s", page)
	}
}

// checkPageHeaders checks what every page is sent with: a CSP that allows
// nothing but the page's own style and script, by the nonce they carry.
func checkPageHeaders(t *testing.T, resp *http.Response, page string) {
	t.Helper()
	csp := resp.Header.Get("Content-Security-Policy")
	m := regexp.MustCompile(`style-src 'nonce-([^']+)'`).FindStringSubmatch(csp)
	if m == nil || !strings.Contains(csp, "default-src 'none'") || strings.Contains(csp, "unsafe") {
		t.Fatalf("Content-Security-Policy = %q, want default-src 'none' and a style nonce, nothing unsafe", csp)
	}
	if !strings.Contains(page, `<style nonce="`+m[1]+`">`) {
		t.Errorf("the page's <style> does not carry the CSP's nonce %q", m[1])
	}
	if got := resp.Header.Get("X-Content-Type-Options"); got != "nosniff" {
		t.Errorf("X-Content-Type-Options = %q, want nosniff", got)
	}
	if got := resp.Header.Get("Content-Type"); got != "text/html; charset=utf-8" {
		t.Errorf("Content-Type = %q, want text/html; charset=utf-8", got)
	}
}

// The admin listener's /cluster is the status page for a browser and the
// JSON summary for everyone else; the demo's page links to it.
func TestStatusPageOnTheAdminListener(t *testing.T) {
	s := start(t, []string{"-name", "w1"}, loneNodeEnv)
	if !testutil.Poll(10*time.Second, func() bool { code, _, _ := httpGet(t, s.url+"/readyz"); return code == 200 }) {
		t.Fatalf("a lone cluster node never became ready\n%s", s.log)
	}
	admin := &browser{t: t, c: &http.Client{}, url: s.admin}
	code, page, resp := admin.getWith("/cluster", htmlAccept)
	if code != 200 || !strings.Contains(page, `data-members="1"`) || !strings.Contains(page, `class="arc"`) {
		t.Fatalf("GET /cluster as a browser = %d, want the page with one member and its arcs:\n%s", code, page)
	}
	checkPageHeaders(t, resp, page)
	if code, body, h := httpGet(t, s.admin+"/cluster"); code != 200 || h.Get("Content-Type") != "application/json" || !strings.HasPrefix(body, "{") {
		t.Fatalf("GET /cluster without Accept = %d %q %q, want the JSON", code, h.Get("Content-Type"), body)
	}

	app := &browser{t: t, c: &http.Client{}, url: s.url}
	_, page, _ = app.getWith("/", htmlAccept)
	want := `href="` + s.admin + `/cluster"`
	if !strings.Contains(page, want) || !strings.Contains(page, `id="owner">`) {
		t.Fatalf("the demo's page has no %s or no owner:\n%s", want, page)
	}
}

func TestDashArray(t *testing.T) {
	for _, c := range []struct {
		owner []int
		who   int
		want  string
		count int
	}{
		{[]int{0, 0, 0, 0}, 0, "0 0 4 0", 4},
		{[]int{0, 0, 0, 0}, 1, "0 4", 0},
		{[]int{1, 0, 0, 1}, 0, "0 1 2 1", 2},
		{[]int{1, 0, 0, 1}, 1, "0 0 1 2 1 0", 2},
		{[]int{-1, 2, 2, -1, 2}, 2, "0 1 2 1 1 0", 3},
	} {
		got, count := dashArray(c.owner, c.who)
		if got != c.want || count != c.count {
			t.Errorf("dashArray(%v, %d) = %q, %d; want %q, %d", c.owner, c.who, got, count, c.want, c.count)
		}
	}
}

// Every worker gives the same members the same colours, distinct while
// the palette lasts; when the member last in name order dies, the others
// keep theirs.
func TestColours(t *testing.T) {
	names := []string{"a-1", "b-2", "c-3", "d-4", "e-5", "f-6", "g-7", "h-8"}
	all := colours(names)
	if !slices.Equal(all, colours(names)) {
		t.Fatalf("colours(%v) differs between calls", names)
	}
	if len(slices.Compact(slices.Sorted(slices.Values(all)))) != len(palette) {
		t.Fatalf("colours(%v) = %v, want %d distinct", names, all, len(palette))
	}
	if got := colours(names[:7]); !slices.Equal(got, all[:7]) {
		t.Fatalf("without h-8, colours = %v, want %v", got, all[:7])
	}
}

// The rings put every partition on one member per ring, the primary ring
// first.
func TestRings(t *testing.T) {
	st := cluster.Status{Partitions: 4, Replicas: 2, Members: []cluster.MemberStatus{
		{Name: "a", Primary: []int{0, 1}, Backup: []int{2, 3}},
		{Name: "b", Primary: []int{2, 3}, Backup: []int{0, 1}},
	}}
	r := rings(st, []string{"#1", "#2"})
	if len(r) != 2 || r[0].Label != "primary" || len(r[0].Arcs) != 2 || r[0].Arcs[0].Count != 2 || r[1].Arcs[0].Dashes != "0 2 2 0" {
		t.Fatalf("rings = %+v", r)
	}
}

// Within a sector the owners are grouped; the sectors keep their order.
func TestGroupBySector(t *testing.T) {
	owner := make([]int, 2*ringSectors) // two partitions per sector
	for p := range owner {
		owner[p] = (p + 1) % 2 // 1 0 1 0 ...
	}
	groupBySector(owner)
	for p := 0; p < len(owner); p += 2 {
		if owner[p] != 0 || owner[p+1] != 1 {
			t.Fatalf("sector %d = %v, want [0 1]", p/2, owner[p:p+2])
		}
	}
}

// countingStore counts a store's loads and saves.
type countingStore struct {
	session.Store
	loads, saves atomic.Int64
}

func (c *countingStore) Load(ctx context.Context, token string) (session.Record, bool, error) {
	c.loads.Add(1)
	return c.Store.Load(ctx, token)
}

func (c *countingStore) Save(ctx context.Context, token string, p session.Patch) (string, error) {
	c.saves.Add(1)
	return c.Store.Save(ctx, token, p)
}

// The page costs what the number costs: one load and one save per visit,
// though it also reads the user.
func TestCounterPageIsOneLoadOneSave(t *testing.T) {
	cfg := stores.DefaultConfig()
	st, err := stores.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stores.Close(st) })
	cs := &countingStore{Store: st}
	m, err := session.NewManager(cfg.Session(cs))
	if err != nil {
		t.Fatal(err)
	}
	d := newDemo("w-test", m, slog.New(slog.NewTextHandler(io.Discard, nil)))
	srv := httptest.NewServer(d.routes())
	t.Cleanup(srv.Close)
	jar, _ := cookiejar.New(nil)
	b := &browser{t: t, c: &http.Client{Jar: jar}, url: srv.URL}
	b.getWith("/", htmlAccept) // creates the session
	loads, saves := cs.loads.Load(), cs.saves.Load()
	if code, page, _ := b.getWith("/", htmlAccept); code != 200 || !strings.Contains(page, `id="counter">2<`) {
		t.Fatalf("second GET / as a browser = %d, want the page with counter 2:\n%s", code, page)
	}
	if l, s := cs.loads.Load()-loads, cs.saves.Load()-saves; l != 1 || s != 1 {
		t.Errorf("GET / as a browser cost %d loads and %d saves, want 1 and 1", l, s)
	}
}

// However many replicas, the rings stay apart and clear of the centre.
func TestRingsFitSevenReplicas(t *testing.T) {
	r := rings(cluster.Status{Partitions: 64, Replicas: 7}, nil)
	last := r[len(r)-1]
	if len(r) != 7 || last.Width <= 0 || last.Radius-last.Width/2 < 40 {
		t.Fatalf("7 rings end at radius %d, width %d: want them clear of the centre", last.Radius, last.Width)
	}
}
