package check_test

import (
	"context"
	"errors"
	"math"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/sessionmesh/sessionmesh/internal/testutil"
	"github.com/sessionmesh/sessionmesh/test/loadcheck/check"
)

// short is the load phase of these tests: long enough for every user to
// send hundreds of requests to an in-process server.
const short = 300 * time.Millisecond

func run(t *testing.T, opts check.Options) check.Report {
	t.Helper()
	if opts.Duration == 0 {
		opts.Duration = short
	}
	if opts.Timeout == 0 {
		opts.Timeout = 10 * time.Second // a loaded machine is slow, not failing
	}
	r, err := check.Run(context.Background(), opts)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	t.Logf("report:\n%s", r)
	// Every user sent a few requests; how many fit in the load phase
	// depends on how busy the machine is, so ask for little.
	if r.Requests < 2*r.Users {
		t.Fatalf("only %d requests from %d users: the run did not really run", r.Requests, r.Users)
	}
	return r
}

func TestRunBehavingCluster(t *testing.T) {
	d := &demo{}
	opts := check.Options{URLs: []string{d.serve(t, "a"), d.serve(t, "b")}, Users: 8, Reads: 1, Writes: 1}
	r := run(t, opts)
	if !r.OK() || r.LostWrites != 0 || r.LostSessions != 0 || r.Unexpected != 0 || r.Unverified != 0 || len(r.Losses) != 0 {
		t.Errorf("a behaving server was reported broken: %+v", r)
	}
	if r.Failures != 0 || r.Availability != 1 || r.Retries != 0 {
		t.Errorf("failures=%d availability=%v retries=%d, want 0, 1, 0", r.Failures, r.Availability, r.Retries)
	}
	if r.Reads == 0 || r.Writes == 0 || r.Reads+r.Writes != r.Requests || r.AckedWrites != r.Writes {
		t.Errorf("reads=%d writes=%d requests=%d acked=%d: counts do not add up", r.Reads, r.Writes, r.Requests, r.AckedWrites)
	}
	if r.ServedBy["a"] == 0 || r.ServedBy["b"] == 0 || r.ServedBy["a"]+r.ServedBy["b"] != r.Requests+r.Users {
		t.Errorf("served by %v: want both workers, every answer counted (requests + one read-back each)", r.ServedBy)
	}
	if r.LatencyP50 <= 0 || r.LatencyP50 > r.LatencyP99 || r.LatencyP99 > r.LatencyMax {
		t.Errorf("latencies p50=%v p99=%v max=%v are not ordered", r.LatencyP50, r.LatencyP99, r.LatencyMax)
	}
}

func TestRunReportsProgress(t *testing.T) {
	d := &demo{failEvery: 7}
	var p check.Progress
	r := run(t, check.Options{URLs: []string{d.serve(t, "a")}, Users: 3, Reads: 1, Writes: 1, Progress: &p})
	if p.Requests() != int64(r.Requests) || p.Failures() != int64(r.Failures) || p.AckedWrites() != int64(r.AckedWrites) {
		t.Errorf("progress %d/%d/%d, report %d/%d/%d (requests/failures/acked)",
			p.Requests(), p.Failures(), p.AckedWrites(), r.Requests, r.Failures, r.AckedWrites)
	}
}

func TestRunDetectsLostWrite(t *testing.T) {
	d := &demo{loseThirdWrite: true}
	r := run(t, check.Options{URLs: []string{d.serve(t, "a")}, Users: 4, Reads: 0, Writes: 1, Duration: time.Second})
	// Writes only: each user's third write is acknowledged but not stored,
	// so the fourth answers 3 again. Exactly one lost write per user.
	if r.LostWrites != r.Users || r.OK() {
		t.Errorf("lost writes = %d, OK = %v; want %d (one per user), not OK", r.LostWrites, r.OK(), r.Users)
	}
	if r.LostSessions != 0 || r.Failures != 0 {
		t.Errorf("lost sessions = %d, failures = %d; want 0, 0", r.LostSessions, r.Failures)
	}
	if want := 100 * float64(r.LostWrites) / float64(r.AckedWrites); math.Abs(r.LostWritePercent-want) > 1e-9 {
		t.Errorf("lost write percent = %v, want %v", r.LostWritePercent, want)
	}
	// Each loss is described for whoever must find it in the logs: the
	// fourth write answered 3, so it saw 2 where 3 was acknowledged.
	if len(r.Losses) != r.Users {
		t.Fatalf("losses %v, want one per user", r.Losses)
	}
	for _, l := range r.Losses {
		if l.Acked != 3 || l.Seen != 2 || l.Lost != 1 || l.ServedBy != "a" || l.ReadBack ||
			!strings.HasPrefix(l.Session, "sid=") || l.At.IsZero() {
			t.Errorf("loss %+v: want acked 3, seen 2, 1 lost, served by a, during the load, with the sid cookie and a time", l)
		}
	}
}

func TestRunDetectsLostSession(t *testing.T) {
	d := &demo{forgetAtFive: true}
	r := run(t, check.Options{URLs: []string{d.serve(t, "a")}, Users: 4, Reads: 1, Writes: 3, Duration: time.Second})
	// Each user's first session vanishes when it would reach 5: the four
	// acknowledged writes 1..4 are lost and the counter restarts at 1.
	if r.LostSessions != r.Users || r.LostWrites != 4*r.Users || r.OK() {
		t.Errorf("lost sessions = %d, lost writes = %d, OK = %v; want %d, %d, not OK",
			r.LostSessions, r.LostWrites, r.OK(), r.Users, 4*r.Users)
	}
}

func TestRunCountsFailedRequests(t *testing.T) {
	d := &demo{failEvery: 10}
	r := run(t, check.Options{URLs: []string{d.serve(t, "a")}, Users: 4, Reads: 1, Writes: 1})
	// Every 10th request the server sees fails, and the load phase ends
	// before the read-back starts, so exactly Requests/10 of them failed.
	if r.Failures != r.Requests/10 || r.Failures == 0 {
		t.Errorf("failures = %d of %d requests, want %d", r.Failures, r.Requests, r.Requests/10)
	}
	if want := float64(r.Requests-r.Failures) / float64(r.Requests); r.Availability != want {
		t.Errorf("availability = %v, want %v", r.Availability, want)
	}
	if r.Errors["status 500"] < r.Failures || r.Retries != 0 {
		t.Errorf("errors = %v, retries = %d: want every failure as status 500, and no retry of a 500", r.Errors, r.Retries)
	}
	// A failed write is not acknowledged, so nothing is lost.
	if !r.OK() || r.LostWrites != 0 || r.AckedWrites+r.Failures < r.Writes {
		t.Errorf("OK = %v, lost = %d, acked = %d: failures must not count as lost writes", r.OK(), r.LostWrites, r.AckedWrites)
	}
}

func TestRunDetectsForeignCounter(t *testing.T) {
	d := &demo{ignoreCookies: true}
	r := run(t, check.Options{URLs: []string{d.serve(t, "a")}, Users: 4, Reads: 1, Writes: 1})
	if r.Unexpected < r.Users {
		t.Errorf("unexpected = %d, want at least one per user (every user sees a counter at 1000+)", r.Unexpected)
	}
}

// A write applied by a worker that then died unanswered is sent again:
// by the HTTP client itself (it replays a GET whose reused connection
// closed before any answer) or by the failover. The counter then skips a
// value; that is a resent write, not another user's counter, and no
// write is lost.
func TestRunCountsResentWritesNotAsForeign(t *testing.T) {
	d := &demo{dropAnswer: 3}
	r := run(t, check.Options{URLs: []string{d.serve(t, "a"), d.serve(t, "b")}, Users: 4, Reads: 1, Writes: 1})
	if r.Resent == 0 {
		t.Fatalf("resent = 0: every third write was applied and left unanswered, so some must have been sent again")
	}
	if !r.OK() || r.Unexpected != 0 || r.LostWrites != 0 || r.LostSessions != 0 {
		t.Errorf("OK = %v, unexpected = %d, lost writes = %d, lost sessions = %d; want a resent write to count as neither foreign nor lost",
			r.OK(), r.Unexpected, r.LostWrites, r.LostSessions)
	}
}

// deadURL returns the URL of a loopback port that refuses connections.
func deadURL(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "http://" + addr
}

func TestRunFailsOverFromDeadWorker(t *testing.T) {
	d := &demo{}
	// The cooldown outlasts the run, so a retry never goes back to the
	// dead worker however slowly this machine schedules the users.
	r := run(t, check.Options{URLs: []string{d.serve(t, "a"), deadURL(t)}, Users: 4, Reads: 1, Writes: 1,
		Cooldown: time.Minute})
	if r.Failures != 0 || !r.OK() {
		t.Errorf("failures = %d, OK = %v: the balancer must retry on the live worker", r.Failures, r.OK())
	}
	if r.Retries == 0 || r.Errors["connection refused"] == 0 {
		t.Errorf("retries = %d, errors = %v: want refused connections retried", r.Retries, r.Errors)
	}
}

func TestRunWithoutFailoverCountsDeadWorker(t *testing.T) {
	d := &demo{}
	r := run(t, check.Options{URLs: []string{d.serve(t, "a"), deadURL(t)}, Users: 4, Reads: 1, Writes: 1,
		NoFailover: true, Cooldown: time.Millisecond})
	if r.Failures == 0 || r.Retries != 0 || r.Availability == 1 {
		t.Errorf("failures = %d, retries = %d, availability = %v: want failures, no retries", r.Failures, r.Retries, r.Availability)
	}
	if !r.OK() {
		t.Errorf("refused requests lose nothing, but OK = false: %+v", r)
	}
}

func TestRunFailsOverFromHungWorker(t *testing.T) {
	d := &demo{}
	hung := make(chan struct{})
	// The timeout is generous so that the live server never hits it on a
	// loaded machine; the hung one costs each user at most one timeout, as
	// the cooldown then outlasts the run.
	const timeout = 3 * time.Second
	r := run(t, check.Options{URLs: []string{d.serve(t, "a"), hangingURL(t, hung)}, Users: 4,
		Duration: 2 * timeout, Timeout: timeout, Cooldown: time.Minute})
	close(hung)
	if r.Failures != 0 || r.Errors["timeout"] == 0 || r.Errors["timeout"] > r.Users || !r.OK() {
		t.Errorf("failures = %d, errors = %v, OK = %v: want at most one timeout per user, retried elsewhere",
			r.Failures, r.Errors, r.OK())
	}
	if r.LongestWait < timeout {
		t.Errorf("longest wait = %v, want at least the %v timeout", r.LongestWait, timeout)
	}
}

func TestRunReadBackFailsWhenAllDown(t *testing.T) {
	r, err := check.Run(context.Background(), check.Options{URLs: []string{deadURL(t)}, Users: 2,
		Duration: 20 * time.Millisecond, ReadBackAttempts: 2})
	if err != nil {
		t.Fatal(err)
	}
	if r.Unverified != 2 || r.OK() || r.Failures != r.Requests || r.Availability != 0 {
		t.Errorf("unverified = %d, OK = %v, failures = %d/%d: nothing answered, so nothing is verified",
			r.Unverified, r.OK(), r.Failures, r.Requests)
	}
}

func TestRunStopsWhenContextIsDone(t *testing.T) {
	d := &demo{}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	r, err := check.Run(ctx, check.Options{URLs: []string{d.serve(t, "a")}, Users: 2, Duration: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("Run took %v after its context ended", took)
	}
	if r.Failures != 0 {
		t.Errorf("failures = %d: requests cut short by the caller are not the workers' failures", r.Failures)
	}
}

func TestRunStopsEarlyAndStillReadsBack(t *testing.T) {
	d := &demo{}
	url := d.serve(t, "a")
	stop := make(chan struct{})
	var p check.Progress
	done := make(chan check.Report)
	go func() {
		r, err := check.Run(context.Background(), check.Options{URLs: []string{url}, Users: 2,
			Duration: time.Hour, Reads: 1, Writes: 1, Stop: stop, Progress: &p})
		if err != nil {
			t.Error(err)
		}
		done <- r
	}()
	testutil.Eventually(t, 10*time.Second, "10 acknowledged writes", func() bool { return p.AckedWrites() >= 10 })
	close(stop)
	r := <-done
	if r.Unverified != 0 || !r.OK() || r.ServedBy["a"] != r.Requests+r.Users {
		t.Errorf("unverified = %d, OK = %v, served = %v of %d requests: the read-back must run after Stop",
			r.Unverified, r.OK(), r.ServedBy, r.Requests)
	}
}

func TestRunRejectsBadOptions(t *testing.T) {
	for _, opts := range []check.Options{
		{},
		{URLs: []string{"http://example.com"}},
		{URLs: []string{"ftp://127.0.0.1:21"}},
		{URLs: []string{"http://10.0.0.1:8080"}},
		{URLs: []string{"http://127.0.0.1:1"}, Users: -1},
		{URLs: []string{"http://127.0.0.1:1"}, Writes: -1},
		{URLs: []string{"http://127.0.0.1:1"}, Timeout: -time.Second},
	} {
		if _, err := check.Run(context.Background(), opts); !errors.Is(err, check.ErrInvalidOptions) {
			t.Errorf("Run(%+v) = %v, want ErrInvalidOptions", opts, err)
		}
	}
}

func TestParseMix(t *testing.T) {
	tests := []struct {
		in            string
		reads, writes int
		ok            bool
	}{
		{"9:1", 9, 1, true}, {"0:1", 0, 1, true}, {"1:0", 1, 0, true}, {" 3 : 2 ", 3, 2, true},
		{"0:0", 0, 0, false}, {"9", 0, 0, false}, {"-1:2", 0, 0, false}, {"a:b", 0, 0, false}, {"", 0, 0, false},
	}
	for _, tt := range tests {
		r, w, err := check.ParseMix(tt.in)
		if (err == nil) != tt.ok || r != tt.reads || w != tt.writes {
			t.Errorf("ParseMix(%q) = %d, %d, %v; want %d, %d, ok=%v", tt.in, r, w, err, tt.reads, tt.writes, tt.ok)
		}
		if err != nil && !errors.Is(err, check.ErrInvalidOptions) {
			t.Errorf("ParseMix(%q) error %v does not wrap ErrInvalidOptions", tt.in, err)
		}
	}
}
