package check

import (
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// maxReasons bounds the distinct failure causes kept, so a run with many
// different transport errors cannot grow the report without bound.
const maxReasons = 32

// maxLosses bounds the losses a user and a Report describe one by one.
const maxLosses = 5

// user is one virtual user: its own cookie jar, one request at a time, and
// its own ledger of acknowledged writes. A user is used by one goroutine.
type user struct {
	id     int
	opts   *Options
	bal    *balancer
	client *http.Client
	rng    *rand.Rand
	ledger ledger
	stats  stats
	lastOK time.Time // end of the last successful request
	lastBy string    // X-Served-By of the last successful answer
	losses []Loss    // the first maxLosses times a write was seen lost
}

// stats are one user's counters, merged into the Report at the end.
type stats struct {
	requests, reads, writes, failures, retries int
	resent                                     int // extra sends of writes (see request)
	latencies                                  []time.Duration
	longestWait                                time.Duration
	readBackOK                                 bool
	reasons                                    map[string]int // failed attempts by cause
	servedBy                                   map[string]int // answers by X-Served-By
}

func newUser(id int, opts *Options, bal *balancer, rt http.RoundTripper) *user {
	return &user{
		id:     id,
		opts:   opts,
		bal:    bal,
		client: &http.Client{Transport: rt, Jar: newSiteJar(opts.Now)},
		rng:    rand.New(rand.NewPCG(opts.Seed, uint64(id))),
		stats:  stats{reasons: map[string]int{}, servedBy: map[string]int{}},
	}
}

// run sends requests until the deadline passes, Stop is closed or ctx is
// done.
func (u *user) run(ctx context.Context, until time.Time) {
	u.lastOK = u.opts.Now()
	for ctx.Err() == nil && !closed(u.opts.Stop) && u.opts.Now().Before(until) {
		u.step(ctx, u.rng.IntN(u.opts.Reads+u.opts.Writes) < u.opts.Writes)
	}
}

// step sends one read or write and records what it got.
func (u *user) step(ctx context.Context, write bool) {
	path, minValue := u.opts.ReadPath, 0
	if write {
		path, minValue = u.opts.WritePath, 1 // a write answers the incremented counter
	}
	start := u.opts.Now()
	value, ok, sends := u.request(ctx, path, minValue)
	end := u.opts.Now()
	if !ok && ctx.Err() != nil {
		return // the caller stopped the run: not the workers' failure
	}
	u.count(write, ok, end.Sub(start))
	u.opts.Progress.add(write, ok)
	lost, top := u.ledger.lost, u.ledger.top()
	if write && sends > 1 {
		// Sent more than once: by the HTTP client, which replays a GET
		// whose reused connection closed before any answer (a balancer does
		// that when the worker behind it died), or by the failover above.
		// Each send may have been applied; only one was answered.
		u.stats.resent += sends - 1
		u.ledger.unanswered(sends - 1)
	}
	switch {
	case ok && write:
		u.ledger.ackWrite(value)
	case ok:
		u.ledger.observe(value)
	case write:
		u.ledger.unanswered(1)
	}
	if write {
		value-- // a write answers the state after it; it saw the one before
	}
	u.noteLoss(lost, top, value, false)
	if ok {
		u.stats.longestWait = max(u.stats.longestWait, end.Sub(u.lastOK))
		u.lastOK = end
	}
}

func (u *user) count(write, ok bool, latency time.Duration) {
	u.stats.requests++
	if write {
		u.stats.writes++
	} else {
		u.stats.reads++
	}
	if !ok {
		u.stats.failures++
	}
	u.stats.latencies = append(u.stats.latencies, latency)
}

// readBack reads the session once more at the end, retrying across workers
// with a growing pause, so a worker that is down or restarting does not make
// a session look lost.
func (u *user) readBack(ctx context.Context) {
	pause := 50 * time.Millisecond
	for range u.opts.ReadBackAttempts {
		if value, ok, _ := u.request(ctx, u.opts.ReadPath, 0); ok {
			lost, top := u.ledger.lost, u.ledger.top()
			u.ledger.observe(value)
			u.noteLoss(lost, top, value, true)
			u.stats.readBackOK = true
			return
		}
		if !sleep(ctx, pause) {
			return
		}
		pause = min(2*pause, time.Second)
	}
}

// request sends one request through the balancer, moving on to the next
// worker after a retryable failure unless failover is off. ok is false when
// every attempt failed. sends counts the connections the request was sent
// on, the HTTP client's own replays included: how many times a worker may
// have run it.
func (u *user) request(ctx context.Context, path string, minValue int) (value int, ok bool, sends int) {
	attempts := len(u.opts.URLs)
	if u.opts.NoFailover {
		attempts = 1
	}
	trace := &httptrace.ClientTrace{GotConn: func(httptrace.GotConnInfo) { sends++ }}
	ctx = httptrace.WithClientTrace(ctx, trace)
	for a := range attempts {
		w := u.bal.pick()
		value, reason, retry := u.attempt(ctx, w, path, minValue)
		if reason == "" {
			return value, true, sends
		}
		u.addReason(reason)
		if retry {
			u.bal.markDown(w)
		}
		if !retry || ctx.Err() != nil || a == attempts-1 {
			break
		}
		u.stats.retries++
	}
	return 0, false, sends
}

// attempt sends one request to worker w. reason is "" on success, else the
// cause of the failure; retry says whether another worker may do better.
func (u *user) attempt(ctx context.Context, w int, path string, minValue int) (value int, reason string, retry bool) {
	ctx, cancel := context.WithTimeout(ctx, u.opts.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(u.opts.URLs[w], "/")+path, nil)
	if err != nil {
		return 0, "bad request: " + err.Error(), false
	}
	resp, err := u.client.Do(req)
	if err != nil {
		return 0, classify(err), true
	}
	defer drain(resp.Body)
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64))
	if err != nil {
		return 0, classify(err), true
	}
	if resp.StatusCode != http.StatusOK {
		code := resp.StatusCode
		return 0, "status " + strconv.Itoa(code), code == 502 || code == 503 || code == 504
	}
	value, err = strconv.Atoi(strings.TrimSpace(string(body)))
	if err != nil || value < minValue {
		return 0, "bad body", false
	}
	if name := resp.Header.Get("X-Served-By"); name != "" {
		u.stats.servedBy[name]++
		u.lastBy = name
	}
	return value, "", false
}

// noteLoss records a Loss when the ledger's lost count rose above before:
// the answer just observed (state seen, served by lastBy) is below the
// acknowledged write top.
func (u *user) noteLoss(before, top, seen int, readBack bool) {
	n := u.ledger.lost - before
	if n == 0 || len(u.losses) >= maxLosses {
		return
	}
	u.losses = append(u.losses, Loss{User: u.id, Session: u.session(), Acked: top, Seen: seen, Lost: n,
		At: u.opts.Now(), ServedBy: u.lastBy, ReadBack: readBack})
}

// session returns the start of the user's cookies, to find the session in
// the workers' logs.
func (u *user) session() string {
	var parts []string
	for _, c := range u.client.Jar.Cookies(nil) {
		parts = append(parts, c.Name+"="+c.Value[:min(len(c.Value), 12)])
	}
	return strings.Join(parts, " ")
}

func (u *user) addReason(reason string) {
	if _, seen := u.stats.reasons[reason]; !seen && len(u.stats.reasons) >= maxReasons {
		reason = "other"
	}
	u.stats.reasons[reason]++
}

// drain reads what is left of a small body so the connection can be reused.
func drain(body io.ReadCloser) {
	_, _ = io.Copy(io.Discard, io.LimitReader(body, 4<<10))
	_ = body.Close()
}

// classify names a transport error by its cause, without the addresses that
// would make every occurrence distinct.
func classify(err error) string {
	var nerr net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &nerr) && nerr.Timeout():
		return "timeout"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "connection closed"
	}
	var uerr *url.Error
	if errors.As(err, &uerr) {
		err = uerr.Err
	}
	return "transport: " + err.Error()
}

// closed reports whether c is closed; a nil c never is.
func closed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// sleep waits d or until ctx is done; it reports whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
