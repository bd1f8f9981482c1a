package test

import (
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"os/exec"
	"regexp"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionmesh/sessionmesh/test/worker"
)

const (
	// floodBound is the sessions a worker may hold (SESSIONS_MAX_SESSIONS)
	// in TestFloodKeepsReturningUsers; the flood creates ten times as many.
	floodBound = 20000
	// returning is how many users keep coming back during the flood.
	returning = 500
	// rssMargin is how much a worker's peak RSS may grow during the flood
	// on top of what it held before: the bound's sessions (about 2 MiB
	// here) plus the runtime's garbage between collections. Measured: a
	// flood of 240k sessions grew a worker bounded at 10k by 8 MiB, one
	// without a bound by 37 MiB at 178k sessions.
	rssMargin = 20 << 20
)

// TestFloodKeepsReturningUsers: 500 users keep coming back to one worker
// with the memory store bounded at 20,000 sessions while wrk creates ten
// times the bound in anonymous sessions (GET / without a cookie). At
// least 99% of the 500 must keep their session (every answer the next
// number of their counter), and the worker's peak RSS may not grow by
// more than rssMargin: at the bound, sessions never used after their
// first request go first.
func TestFloodKeepsReturningUsers(t *testing.T) {
	wrk, err := exec.LookPath("wrk")
	if err != nil {
		t.Fatalf("wrk is required to flood the worker (scripts/install-deps.sh installs it): %v", err)
	}
	p := worker.Start(t, 1, worker.Config{Env: func(worker.Spec) []string {
		return []string{"SESSIONS_STORE=memory", "SESSIONS_MAX_SESSIONS=" + strconv.Itoa(floodBound)}
	}})
	w := p.Workers()[0]

	tr := &http.Transport{MaxIdleConnsPerHost: 16}
	t.Cleanup(tr.CloseIdleConnections)
	users := make([]*returningUser, returning)
	for i := range users {
		jar, err := cookiejar.New(nil)
		if err != nil {
			t.Fatal(err)
		}
		users[i] = &returningUser{client: &http.Client{Jar: jar, Transport: tr, Timeout: 10 * time.Second}}
		users[i].visit(w.URL())
		if users[i].err != nil {
			t.Fatalf("user %d's first visit: %v", i, users[i].err)
		}
	}
	before, _, err := w.RSS()
	if err != nil {
		t.Fatal(err)
	}

	var (
		stop   atomic.Bool
		visits sync.WaitGroup
	)
	for g := range 4 { // the users come back, a quarter each, until the flood ends
		visits.Go(func() {
			for !stop.Load() {
				for i := g; i < len(users) && !stop.Load(); i += 4 {
					users[i].visit(w.URL())
				}
			}
		})
	}
	flooded, refused, took := flood(t, wrk, w.URL()+"/", 10*floodBound)
	stop.Store(true)
	visits.Wait()

	kept, visited := 0, 0
	var lost []string
	for i, u := range users {
		u.visit(w.URL()) // one more after the flood: the session must still be there
		visited += u.n
		if u.err == nil {
			kept++
		} else if len(lost) < 5 {
			lost = append(lost, fmt.Sprintf("user %d: %v", i, u.err))
		}
	}
	_, peak, err := w.RSS()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("flood of %d new sessions (%d more refused) in %v against a bound of %d; %d returning users made %d visits; %d kept their session; RSS %d MiB before, peak %d MiB",
		flooded, refused, took.Round(time.Millisecond), floodBound, returning, visited, kept, before>>20, peak>>20)
	if kept*100 < returning*99 {
		t.Errorf("%d of %d returning users kept their session, want at least 99%%; e.g. %v", kept, returning, lost)
	}
	if peak-before > rssMargin {
		t.Errorf("peak RSS grew by %d MiB during the flood, want at most %d MiB (the bound does not hold memory)", (peak-before)>>20, rssMargin>>20)
	}
}

// returningUser is one user of the flood test: a cookie jar, the counter
// it expects, and the first answer that broke that expectation.
type returningUser struct {
	client *http.Client
	n      int   // visits answered as expected
	err    error // the first unexpected answer; nil while the session holds
}

// visit sends GET / and checks that the counter is the next number.
func (u *returningUser) visit(url string) {
	if u.err != nil {
		return
	}
	resp, err := u.client.Get(url + "/")
	if err != nil {
		u.err = err
		return
	}
	defer resp.Body.Close()
	var got int
	if _, err := fmt.Fscan(resp.Body, &got); err != nil || resp.StatusCode != http.StatusOK || got != u.n+1 {
		u.err = fmt.Errorf("visit %d: %s, counter %d (err %v), want %d", u.n+1, resp.Status, got, err, u.n+1)
		return
	}
	u.n++
}

// wrkRequests and wrkRefused match wrk's summary lines: how many
// requests it made, and how many were not answered 2xx or 3xx.
var (
	wrkRequests = regexp.MustCompile(`(\d+) requests in`)
	wrkRefused  = regexp.MustCompile(`Non-2xx or 3xx responses: (\d+)`)
)

// flood runs wrk against url (every request without a cookie: a new
// session each) in rounds of two seconds until at least n sessions were
// created, and returns how many were, how many requests were refused and
// how long it took.
func flood(t *testing.T, wrk, url string, n int) (created, refused int, took time.Duration) {
	t.Helper()
	start := time.Now()
	for created < n {
		out, err := exec.Command(wrk, "-t2", "-c16", "-d2s", url).CombinedOutput()
		m := wrkRequests.FindSubmatch(out)
		if err != nil || m == nil {
			t.Fatalf("wrk %s: %v\n%s", url, err, out)
		}
		done, _ := strconv.Atoi(string(m[1]))
		no := 0
		if m := wrkRefused.FindSubmatch(out); m != nil {
			no, _ = strconv.Atoi(string(m[1]))
		}
		if done == no {
			t.Fatalf("wrk %s: no session created in a round:\n%s", url, out)
		}
		created += done - no
		refused += no
	}
	return created, refused, time.Since(start)
}
