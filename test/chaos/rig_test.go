package chaos

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionmesh/sessionmesh/cluster"
	"github.com/sessionmesh/sessionmesh/test/worker"
)

// preloaders is how many connections preload and verify sessions at once:
// enough to keep three workers busy on two cores.
const preloaders = 32

// rig is a cluster of demo workers, two copies of every session, and the
// sessions preloaded into it.
type rig struct {
	t      *testing.T
	pool   *worker.Pool
	client *http.Client // no cookie jar: preloaded sessions are sent by hand
	tokens []string     // preloaded session IDs, each with counter 1
}

// startLoaded starts three workers, preloads them and runs the users (with
// the given attempt timeout) for -load: where every test's fault begins.
// extra, when given, adds to every worker's environment (withTLS).
func startLoaded(t *testing.T, timeout time.Duration, extra ...func(worker.Spec) []string) (*rig, *load) {
	t.Helper()
	r := startCluster(t, 3, extra...)
	r.preload(*preloadCount)
	l := startLoad(t, r.pool.URLs(), users, timeout)
	l.runFor(*loadFor, 200)
	return r, l
}

// startCluster starts n workers as one cluster and waits until every one
// sees all n members, ready, with two copies of every partition.
func startCluster(t *testing.T, n int, extra ...func(worker.Spec) []string) *rig {
	t.Helper()
	cluster := worker.ClusterEnv(worker.NewSecret(), "SESSIONS_CLUSTER_REPLICAS=2")
	env := func(s worker.Spec) []string {
		e := cluster(s)
		for _, f := range extra {
			e = append(e, f(s)...)
		}
		return e
	}
	tr := &http.Transport{MaxIdleConnsPerHost: preloaders, DisableCompression: true}
	t.Cleanup(tr.CloseIdleConnections)
	r := &rig{t: t, pool: worker.Start(t, n, worker.Config{Env: env}),
		client: &http.Client{Transport: tr, Timeout: 10 * time.Second}}
	t.Cleanup(r.keepLogs)
	r.waitConverged("the cluster to form", r.pool.Workers(), 30*time.Second)
	return r
}

// keepLogs copies every worker's whole log to -logs/TestName/ when the
// test failed, to trace a lost write through the cluster.
func (r *rig) keepLogs() {
	if *keepLogs == "" || !r.t.Failed() {
		return
	}
	dir := filepath.Join(*keepLogs, r.t.Name())
	if err := os.MkdirAll(dir, 0o755); err != nil {
		r.t.Logf("keep logs: %v", err)
		return
	}
	for _, w := range r.pool.Workers() {
		b, err := os.ReadFile(w.LogPath())
		if err == nil {
			err = os.WriteFile(filepath.Join(dir, w.Name()+".log"), b, 0o644)
		}
		if err != nil {
			r.t.Logf("keep logs of %s: %v", w.Name(), err)
		}
	}
	r.t.Logf("workers' logs copied to %s", dir)
}

// workers returns the pool's workers but the given ones.
func (r *rig) workers(except ...*worker.Worker) []*worker.Worker {
	var ws []*worker.Worker
	for _, w := range r.pool.Workers() {
		if !contains(except, w) {
			ws = append(ws, w)
		}
	}
	return ws
}

func contains(ws []*worker.Worker, w *worker.Worker) bool {
	for _, o := range ws {
		if o == w {
			return true
		}
	}
	return false
}

func urls(ws []*worker.Worker) []string {
	var us []string
	for _, w := range ws {
		us = append(us, w.URL())
	}
	return us
}

// status returns w's GET /cluster (on its admin listener).
func (r *rig) status(w *worker.Worker) (cluster.Status, error) {
	var st cluster.Status
	resp, err := r.client.Get(w.AdminURL() + "/cluster")
	if err != nil {
		return st, fmt.Errorf("%s: %w", w.Name(), err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("status %s: %s", resp.Status, body)
	}
	if err == nil {
		err = json.Unmarshal(body, &st)
	}
	if err != nil {
		return st, fmt.Errorf("%s GET /cluster: %w", w.Name(), err)
	}
	return st, nil
}

// membersErr says why not every worker in live sees exactly len(live)
// members; nil when they all do: the failure of the others is detected.
func (r *rig) membersErr(live []*worker.Worker) error {
	for _, w := range live {
		st, err := r.status(w)
		if err != nil {
			return err
		}
		if len(st.Members) != len(live) {
			return fmt.Errorf("%s sees %d members, want %d", w.Name(), len(st.Members), len(live))
		}
	}
	return nil
}

// convergedErr says why the cluster of the live workers is not whole;
// nil when every one of them sees exactly them as members, all ready,
// none joining or draining, and no partition short of a copy.
func (r *rig) convergedErr(live []*worker.Worker) error {
	if err := r.membersErr(live); err != nil {
		return err
	}
	for _, w := range live {
		st, err := r.status(w)
		if err != nil {
			return err
		}
		if st.UnderReplicated != 0 {
			return fmt.Errorf("%s: %d copies missing", w.Name(), st.UnderReplicated)
		}
		for _, m := range st.Members {
			if !m.Ready || m.Joining || m.Draining || m.Error != "" {
				return fmt.Errorf("%s sees member %s ready=%v joining=%v draining=%v error=%q",
					w.Name(), m.Name, m.Ready, m.Joining, m.Draining, m.Error)
			}
		}
	}
	return nil
}

// loseOne hits the second worker with fault (kill -9, SIGSTOP) and waits
// until the others have dropped it from their tables and hold two copies
// of every partition without it. It returns the victim, the others, and
// how long after the fault each of the two waits ended. how names the
// victim in the waits' descriptions ("killed", "frozen").
func (r *rig) loseOne(how string, fault func(*worker.Worker)) (victim *worker.Worker, others []*worker.Worker, detected, redundant time.Duration) {
	r.t.Helper()
	ws := r.pool.Workers()
	victim, others = ws[1], r.workers(ws[1])
	start := time.Now()
	fault(victim)
	detected = r.waitMembers("the others to drop the "+how+" worker", others, 30*time.Second)
	r.waitConverged("two copies of every partition without the "+how+" worker", others, 60*time.Second)
	return victim, others, detected, time.Since(start)
}

// waitMembers waits until the live workers see only each other and
// returns how long that took.
func (r *rig) waitMembers(what string, live []*worker.Worker, timeout time.Duration) time.Duration {
	r.t.Helper()
	return r.waitFor(what, timeout, func() error { return r.membersErr(live) })
}

// waitConverged waits until the live workers form a whole cluster again
// (convergedErr) and returns how long that took.
func (r *rig) waitConverged(what string, live []*worker.Worker, timeout time.Duration) time.Duration {
	r.t.Helper()
	return r.waitFor(what, timeout, func() error { return r.convergedErr(live) })
}

// waitFor polls cond until it returns nil and returns how long that took,
// failing the test with cond's last error after timeout.
func (r *rig) waitFor(what string, timeout time.Duration, cond func() error) time.Duration {
	r.t.Helper()
	start := time.Now()
	for {
		err := cond()
		if err == nil {
			return time.Since(start)
		}
		if time.Since(start) > timeout {
			r.t.Fatalf("timed out after %v waiting for %s: %v", timeout, what, err)
		}
		time.Sleep(20 * time.Millisecond) // polling other processes: no clock to inject
	}
}

// preload creates n sessions, each the first visit of a new user (GET /,
// counter 1), round-robin over the workers from many connections at once,
// and keeps their IDs.
func (r *rig) preload(n int) {
	r.t.Helper()
	start := time.Now()
	us := r.pool.URLs()
	tokens := make([]string, n)
	errs := parallel(n, func(i int) error {
		tok, err := r.firstVisit(us[i%len(us)])
		tokens[i] = tok
		return err
	})
	if len(errs) > 0 {
		r.t.Fatalf("preload: %d of %d first visits failed, e.g. %v", len(errs), n, errs[0])
	}
	r.tokens = tokens
	took := time.Since(start)
	r.t.Logf("preloaded %d sessions in %v (%.0f/s)", n, took.Round(time.Millisecond), float64(n)/took.Seconds())
}

// firstVisit sends GET / without a cookie and returns the new session's ID.
func (r *rig) firstVisit(url string) (string, error) {
	resp, err := r.client.Get(url + "/")
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64))
	if resp.StatusCode != http.StatusOK || string(body) != "1\n" {
		return "", fmt.Errorf("GET %s/: %s %q, want 200 \"1\"", url, resp.Status, body)
	}
	for _, c := range resp.Cookies() {
		if c.Name == "sid" && c.Value != "" {
			return c.Value, nil
		}
	}
	return "", fmt.Errorf("GET %s/: no sid cookie in %q", url, resp.Header.Values("Set-Cookie"))
}

// verifyPreloaded reads every preloaded session back through the given
// workers (GET /peek with its cookie) and fails the test for each one
// that is not at counter 1. A worker that fails to answer is retried
// (another one, after a pause); an answer of 0 is a lost session.
func (r *rig) verifyPreloaded(what string, ws []*worker.Worker) {
	r.t.Helper()
	start := time.Now()
	us := urls(ws)
	var failed atomic.Int64
	errs := parallel(len(r.tokens), func(i int) error {
		if failed.Load() >= giveUpAfter {
			return errNotTried
		}
		err := r.verifyOne(us, i)
		if err != nil {
			failed.Add(1)
		}
		return err
	})
	errs = slices.DeleteFunc(errs, func(err error) bool { return err == errNotTried })
	if len(errs) > 0 {
		r.t.Errorf("%s: %d of %d preloaded sessions not read back at counter 1 (the rest not tried after %d failures), e.g. %v",
			what, len(errs), len(r.tokens), giveUpAfter, errs[:min(5, len(errs))])
		return
	}
	r.t.Logf("%s: all %d preloaded sessions read back in %v", what, len(r.tokens), time.Since(start).Round(time.Millisecond))
}

// giveUpAfter is how many sessions verifyPreloaded fails before it stops
// trying the rest: a broken cluster fails the test in seconds, not after
// retrying every one of thousands of sessions.
const giveUpAfter = 20

// errNotTried marks the sessions verifyPreloaded did not try.
var errNotTried = errors.New("not tried")

func (r *rig) verifyOne(us []string, i int) error {
	var err error
	for attempt := range 10 {
		url := us[(i+attempt)%len(us)]
		var body string
		if body, err = r.peek(url, r.tokens[i]); err == nil {
			if body == "1\n" {
				return nil
			}
			return fmt.Errorf("session %d (%.8s...) at %s: counter %q, want 1", i, r.tokens[i], url, body)
		}
		time.Sleep(time.Duration(attempt+1) * 50 * time.Millisecond) // back off from a worker that failed
	}
	return fmt.Errorf("session %d: no answer after 10 attempts: %w", i, err)
}

func (r *rig) peek(url, token string) (string, error) {
	req, err := http.NewRequest(http.MethodGet, url+"/peek", nil)
	if err != nil {
		return "", err
	}
	req.AddCookie(&http.Cookie{Name: "sid", Value: token})
	resp, err := r.client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64))
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("GET %s/peek: %s %q", url, resp.Status, strings.TrimSpace(string(body)))
	}
	return string(body), err
}

// parallel runs f(0..n-1) on preloaders goroutines and returns the errors.
func parallel(n int, f func(i int) error) []error {
	var (
		next atomic.Int64
		mu   sync.Mutex // guards errs
		errs []error
		wg   sync.WaitGroup
	)
	for range preloaders {
		wg.Go(func() {
			for i := int(next.Add(1) - 1); i < n; i = int(next.Add(1) - 1) {
				if err := f(i); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	return errs
}

// drained describes w's last drain from its log: how long the demo's
// store drain took and how many sessions the node handed off (the
// "took" of "demo: store drained" and the "sessions" of "cluster:
// drained"), for the numbers a -v run reports.
func drained(w *worker.Worker) string {
	b, err := os.ReadFile(w.LogPath())
	if err != nil {
		return err.Error()
	}
	return fmt.Sprintf("store drain took %s, %s sessions handed off",
		lastField(string(b), "demo: store drained", "took="), lastField(string(b), "cluster: drained", "sessions="))
}

// lastField returns the value of key (e.g. "took=") on the last line of
// log that contains msg, "?" when there is none.
func lastField(log, msg, key string) string {
	lines := strings.Split(log, "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if !strings.Contains(lines[i], msg) {
			continue
		}
		if _, v, ok := strings.Cut(lines[i], key); ok {
			return strings.Fields(v)[0]
		}
	}
	return "?"
}
