package compose

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessionmesh/sessionmesh/internal/testutil"
	"github.com/sessionmesh/sessionmesh/test/loadcheck/check"
)

// loadUsers is the number of loadcheck's virtual users in every step:
// enough to keep every worker busy, few enough for a shared 2-core machine.
const loadUsers = 20

// afterFault is how long the load goes on once a fault has healed: the
// recovered stack must serve every session too.
const afterFault = 3 * time.Second

// loadDuring runs loadcheck's virtual users through the balancer and
// returns the report, which it logs. Without a fault the load runs for d.
// With one, fault runs in the test's goroutine with a live view of the
// load; the load ends afterFault after fault returns, and d only bounds it
// (a fault that outlasts d fails the step). Every session is then read
// back. If fault fails the test, the load is cancelled and waited for.
func (s *stack) loadDuring(t *testing.T, d time.Duration, fault func(*check.Progress)) check.Report {
	opts := check.DefaultOptions(s.lbURL)
	opts.Users = loadUsers
	opts.Duration = d
	opts.Progress = &check.Progress{}
	stop := make(chan struct{})
	opts.Stop = stop
	length := d.String()
	if fault != nil {
		length = "at most " + length + ", until the fault has healed"
	}
	t.Logf("loadcheck: %d users through the balancer %s, mix %d:%d, for %s",
		opts.Users, s.lbURL, opts.Reads, opts.Writes, length)

	ctx, cancel := context.WithCancel(context.Background())
	var rep check.Report
	var err error
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		rep, err = check.Run(ctx, opts)
	}()
	defer func() { cancel(); <-finished }()
	if fault != nil {
		start := time.Now()
		fault(opts.Progress)
		if took := time.Since(start); took > d {
			t.Errorf("the fault took %v, longer than the load's bound (%v): raise it so that all of it happens under load", took, d)
		}
		hold(t, afterFault, "load on the recovered stack")
		close(stop)
	}
	<-finished
	if err != nil {
		t.Fatalf("compose: loadcheck: %v", err)
	}
	t.Logf("loadcheck report:\n%s", rep)
	return rep
}

// minAckedBeforeFault is how many writes the load must have had
// acknowledged before a fault: every user has a session by then, and
// requests are in flight when the fault hits.
const minAckedBeforeFault = 200

// waitFlowing waits until the load has had minAckedBeforeFault writes
// acknowledged.
func waitFlowing(t *testing.T, p *check.Progress) {
	t.Helper()
	poll(t, 30*time.Second, "load flowing before the fault", func() (bool, string) {
		n := p.AckedWrites()
		return n >= minAckedBeforeFault, fmt.Sprintf("%d writes acknowledged, %d requests failed", n, p.Failures())
	})
	t.Logf("load flowing: %d requests, %d writes acknowledged", p.Requests(), p.AckedWrites())
}

// hold keeps a fault in place for d. There is no clock to inject: the
// point is that real time passes for real containers under load.
func hold(t *testing.T, d time.Duration, why string) {
	t.Logf("hold %v: %s", d, why)
	time.Sleep(d)
}

// requireNoLoss fails the step unless every acknowledged write survived
// and every session read back: the promise users rely on.
func requireNoLoss(t *testing.T, rep check.Report) {
	t.Helper()
	if rep.AckedWrites == 0 {
		t.Errorf("no write was acknowledged: the load never got through (failures %d, errors %v)", rep.Failures, rep.Errors)
	}
	// A write that failed (a timeout when a worker died) may still have
	// been applied, so the user can later see a counter above its last
	// acknowledged one: at most one such "foreign" value per failed request
	// is what a store that loses nothing can show.
	if !rep.OK() || rep.LostSessions > 0 || rep.Unexpected > rep.Failures {
		t.Errorf("lost acknowledged writes %d of %d, lost sessions %d, sessions not read back %d, foreign counters %d (failed requests %d); want 0, 0, 0 and foreign <= failed",
			rep.LostWrites, rep.AckedWrites, rep.LostSessions, rep.Unverified, rep.Unexpected, rep.Failures)
	}
}

// requireAvailability fails the step when more than maxFailed of the
// requests failed on every attempt.
func requireAvailability(t *testing.T, rep check.Report, maxFailed float64) {
	t.Helper()
	if failed := 1 - rep.Availability; failed > maxFailed {
		t.Errorf("%d of %d requests failed (%.2f%%), want at most %.2f%%; errors %v",
			rep.Failures, rep.Requests, 100*failed, 100*maxFailed, rep.Errors)
	}
}

// requireServedByAll fails the step unless every worker answered some of
// the load: the balancer spreads it and every worker serves every session.
func requireServedByAll(t *testing.T, rep check.Report, ws []container) {
	t.Helper()
	for _, c := range ws {
		if rep.ServedBy[c.Hostname] == 0 {
			t.Errorf("worker %s answered none of the load; served by %v", c, rep.ServedBy)
		}
	}
}

// waitServing waits until the balancer has sent a request to every worker
// in ws and each answered: all are up, ready and in the balancer's rotation.
func (s *stack) waitServing(t *testing.T, ws []container) {
	t.Helper()
	seen := map[string]bool{}
	poll(t, readyTimeout, "balancer reaching every worker", func() (bool, string) {
		var last error
		for range ws {
			by, err := s.probe()
			if err != nil {
				last = err
				continue
			}
			seen[by] = true
		}
		var missing []string
		for _, c := range ws {
			if !seen[c.Hostname] {
				missing = append(missing, c.String())
			}
		}
		return len(missing) == 0, fmt.Sprintf("not answered yet: %v (last error: %v)", missing, last)
	})
}

// probe sends one session-less read through the balancer and returns the
// worker that answered it.
func (s *stack) probe() (string, error) {
	c := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Get(s.lbURL + "/peek")
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET /peek: %s from %q", resp.Status, resp.Header.Get("X-Served-By"))
	}
	return resp.Header.Get("X-Served-By"), nil
}

// user is one browser: a cookie jar and the balancer's URL.
type user struct {
	url    string
	client *http.Client
}

func newUser(t *testing.T, url string) *user {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatalf("compose: cookie jar: %v", err)
	}
	tr := &http.Transport{DisableKeepAlives: true}
	return &user{url: url, client: &http.Client{Jar: jar, Timeout: 5 * time.Second, Transport: tr}}
}

// counter sends GET path (/ increments, /peek reads) and returns the body
// and the worker that answered.
func (u *user) counter(t *testing.T, path string) (body, servedBy string) {
	t.Helper()
	resp, err := u.client.Get(u.url + path)
	if err != nil {
		t.Fatalf("compose: GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("compose: GET %s: %s, body %q, err %v", path, resp.Status, b, err)
	}
	return strings.TrimSpace(string(b)), resp.Header.Get("X-Served-By")
}

// countTo increments a fresh session n times through the balancer,
// requiring the answers 1..n, and returns who answered.
func (u *user) countTo(t *testing.T, n int) []string {
	t.Helper()
	var by []string
	for i := 1; i <= n; i++ {
		got, who := u.counter(t, "/")
		if got != fmt.Sprint(i) {
			t.Fatalf("compose: request %d answered %q by %s, want %d (answers so far from %v)", i, got, who, i, by)
		}
		by = append(by, who)
	}
	return by
}

func distinct(names []string) []string {
	out := slices.Clone(names)
	slices.Sort(out)
	return slices.Compact(out)
}

const (
	// outageUsers is how many users the kill step starts before the
	// kill; about a third have their session owned by the victim.
	outageUsers = 45
	// outageLimit bounds how long a user of the killed worker may wait
	// for an answer before the step fails.
	outageLimit = 30 * time.Second
)

// usersOwnedBy starts n users (one GET / each, through the balancer) and
// returns those whose session c owns (X-Session-Owner).
func usersOwnedBy(t *testing.T, url string, c container, n int) []*user {
	t.Helper()
	var owned []*user
	for range n {
		u := newUser(t, url)
		code, owner, err := u.try("/")
		if err != nil || code != http.StatusOK {
			t.Fatalf("compose: a new user's GET /: %d, %v", code, err)
		}
		if memberHost(owner) == c.Hostname {
			owned = append(owned, u)
		}
	}
	if len(owned) == 0 {
		t.Fatalf("compose: none of %d new sessions is owned by %s", n, c)
	}
	return owned
}

// try sends GET path once and returns the status and the session's owner.
func (u *user) try(path string) (code int, owner string, err error) {
	code, owner, _, err = u.tryBy(path)
	return code, owner, err
}

// tryBy is try that also returns the worker that answered.
func (u *user) tryBy(path string) (code int, owner, servedBy string, err error) {
	resp, err := u.client.Get(u.url + path)
	if err != nil {
		return 0, "", "", err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, resp.Header.Get("X-Session-Owner"), resp.Header.Get("X-Served-By"), nil
}

// outage has every user send GET / (a write to its session) until one
// succeeds (testutil.Poll: other processes, no clock to inject), each on
// its own, and sends on the channel how long after from
// each one's first success came (limit+ for a user that got none).
func outage(users []*user, from time.Time, limit time.Duration) <-chan []time.Duration {
	out := make(chan []time.Duration, 1)
	go func() {
		took := make([]time.Duration, len(users))
		var wg sync.WaitGroup
		for i, u := range users {
			wg.Go(func() {
				took[i] = limit + time.Nanosecond
				if testutil.Poll(limit-time.Since(from), func() bool {
					code, _, err := u.try("/")
					return err == nil && code == http.StatusOK
				}) {
					took[i] = time.Since(from)
				}
			})
		}
		wg.Wait()
		slices.Sort(took)
		out <- took
	}()
	return out
}

// reportOutage logs how long the users whose session the killed worker
// owned waited for their first answer, and fails the step for any that
// got none within outageLimit.
func reportOutage(t *testing.T, victim container, took []time.Duration) {
	t.Helper()
	t.Logf("outage after kill of %s, for the %d sessions it owned: from the kill to the first successful write p50 %v, max %v",
		victim, len(took), took[len(took)/2].Round(time.Millisecond), took[len(took)-1].Round(time.Millisecond))
	if took[len(took)-1] > outageLimit {
		t.Errorf("a user whose session %s owned got no answer within %v of the kill", victim, outageLimit)
	}
}
