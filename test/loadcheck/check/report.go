package check

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"time"
)

// Report is the outcome of a Run. Durations are in nanoseconds in JSON.
type Report struct {
	Users   int           `json:"users"`
	Workers int           `json:"workers"`
	Elapsed time.Duration `json:"elapsed_ns"` // the load phase, without the read-back

	// Requests counts the requests of the load phase as the users saw them:
	// a request retried on another worker counts once.
	Requests int `json:"requests"`
	Reads    int `json:"reads"`
	Writes   int `json:"writes"`
	// Failures are requests whose every attempt failed (a transport error,
	// a status other than 200, or a body that is not a counter).
	Failures int `json:"failures"`
	// Retries are attempts repeated on another worker, the read-back's included.
	Retries int `json:"retries"`
	// Resent counts the sends of writes beyond one: the retries above, and
	// the HTTP client's own replays of a GET whose reused connection closed
	// before any answer (what a balancer does when the worker behind it
	// dies mid-request). A resent write may have been applied twice, so
	// the counter can skip a value without any write being foreign.
	Resent int `json:"resent"`
	// Availability is the fraction of requests that succeeded, 0 to 1.
	Availability float64 `json:"availability"`

	LatencyP50 time.Duration `json:"latency_p50_ns"`
	LatencyP99 time.Duration `json:"latency_p99_ns"`
	LatencyMax time.Duration `json:"latency_max_ns"`
	// LongestWait is the longest time any user went between two successful
	// answers: under a fault, the failover time the users felt.
	LongestWait time.Duration `json:"longest_wait_ns"`

	// AckedWrites are writes answered 200 with the new counter value.
	AckedWrites int `json:"acked_writes"`
	// LostWrites are acknowledged writes that a later read, write or the
	// final read-back showed missing.
	LostWrites       int     `json:"lost_writes"`
	LostWritePercent float64 `json:"lost_write_percent"`
	// LostSessions are users whose session was seen gone entirely (counter
	// back at 0, or restarted from 1) after an acknowledged write.
	LostSessions int `json:"lost_sessions"`
	// Unverified are users whose session could not be read back at the end
	// on any attempt: their writes may be lost without this report knowing.
	Unverified int `json:"unverified"`
	// Unexpected counts answers above anything the user could have written
	// (every acknowledged write, every write that failed, every send of a
	// resent write): a counter that is not this user's, e.g. another
	// session's.
	Unexpected int `json:"unexpected"`

	// Losses describe the first lost writes one by one (at most 5 per
	// user, 20 in all), for whoever has to find where they went.
	Losses []Loss `json:"losses,omitempty"`

	// Errors counts failed attempts by cause, including those a retry hid.
	Errors map[string]int `json:"errors"`
	// ServedBy counts successful answers by their X-Served-By header.
	ServedBy map[string]int `json:"served_by"`
}

// Loss is one answer that showed acknowledged writes lost: user User's
// session (Session: the start of its cookies) was seen at state Seen,
// below its acknowledged counter Acked, at time At, by worker ServedBy,
// during the load or, with ReadBack, in the final read-back. Lost is how
// many acknowledged writes that answer showed lost.
type Loss struct {
	User     int       `json:"user"`
	Session  string    `json:"session"`
	Acked    int       `json:"acked"`
	Seen     int       `json:"seen"`
	Lost     int       `json:"lost"`
	At       time.Time `json:"at"`
	ServedBy string    `json:"served_by"`
	ReadBack bool      `json:"read_back"`
}

func (l Loss) String() string {
	phase := "load"
	if l.ReadBack {
		phase = "read-back"
	}
	return fmt.Sprintf("%s user %d (%s): acked %d, %s answered %d (%d lost, %s)",
		l.At.UTC().Format("15:04:05.000"), l.User, l.Session, l.Acked, l.ServedBy, l.Seen, l.Lost, phase)
}

// OK reports whether the run proved that no acknowledged write was lost:
// none was seen lost, and every session was read back.
func (r Report) OK() bool { return r.LostWrites == 0 && r.Unverified == 0 }

// summarize merges the users' counters into a Report.
func summarize(users []*user, workers int, elapsed time.Duration) Report {
	r := Report{Users: len(users), Workers: workers, Elapsed: elapsed,
		Errors: map[string]int{}, ServedBy: map[string]int{}}
	var latencies []time.Duration
	for _, u := range users {
		r.add(u)
		latencies = append(latencies, u.stats.latencies...)
	}
	slices.Sort(latencies)
	r.LatencyP50 = percentile(latencies, 0.50)
	r.LatencyP99 = percentile(latencies, 0.99)
	r.LatencyMax = percentile(latencies, 1)
	r.Availability = ratio(r.Requests-r.Failures, r.Requests)
	r.LostWritePercent = 100 * ratio(r.LostWrites, r.AckedWrites)
	return r
}

// add adds one user's counters.
func (r *Report) add(u *user) {
	s, l := &u.stats, &u.ledger
	r.Requests += s.requests
	r.Reads += s.reads
	r.Writes += s.writes
	r.Failures += s.failures
	r.Retries += s.retries
	r.Resent += s.resent
	r.LongestWait = max(r.LongestWait, s.longestWait)
	r.AckedWrites += l.acked
	r.LostWrites += l.lost
	r.Unexpected += l.unexpected
	r.LostSessions += b2i(l.sessionLost)
	r.Unverified += b2i(!s.readBackOK)
	addCounts(r.Errors, s.reasons)
	for _, l := range u.losses {
		if len(r.Losses) < maxLosses*4 {
			r.Losses = append(r.Losses, l)
		}
	}
	addCounts(r.ServedBy, s.servedBy)
}

// percentile returns the nearest-rank p-quantile of sorted, 0 if empty.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(p*float64(len(sorted)))) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// ratio is a/b, or 0 when b is 0.
func ratio(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func addCounts(dst, src map[string]int) {
	for k, v := range src {
		dst[k] += v
	}
}

// String renders the report for people, one measure per line.
func (r Report) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "users         %d on %d workers for %v\n", r.Users, r.Workers, r.Elapsed.Round(time.Millisecond))
	fmt.Fprintf(&b, "requests      %d (reads %d, writes %d)\n", r.Requests, r.Reads, r.Writes)
	fmt.Fprintf(&b, "failures      %d (availability %.3f%%), retries %d, writes resent %d\n", r.Failures, 100*r.Availability, r.Retries, r.Resent)
	fmt.Fprintf(&b, "latency       p50 %v  p99 %v  max %v  longest wait %v\n",
		r.LatencyP50.Round(time.Microsecond), r.LatencyP99.Round(time.Microsecond),
		r.LatencyMax.Round(time.Microsecond), r.LongestWait.Round(time.Microsecond))
	fmt.Fprintf(&b, "acked writes  %d\n", r.AckedWrites)
	fmt.Fprintf(&b, "lost writes   %d (%.3f%%)\n", r.LostWrites, r.LostWritePercent)
	fmt.Fprintf(&b, "lost sessions %d\n", r.LostSessions)
	fmt.Fprintf(&b, "unverified    %d\n", r.Unverified)
	fmt.Fprintf(&b, "unexpected    %d\n", r.Unexpected)
	fmt.Fprintf(&b, "served by     %s\n", counts(r.ServedBy))
	fmt.Fprintf(&b, "errors        %s\n", counts(r.Errors))
	for _, l := range r.Losses {
		fmt.Fprintf(&b, "loss          %s\n", l)
	}
	return b.String()
}

// counts renders a count map sorted by key: "a=1 b=2", or "-" if empty.
func counts(m map[string]int) string {
	if len(m) == 0 {
		return "-"
	}
	parts := make([]string, 0, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s=%d", k, m[k]))
	}
	return strings.Join(parts, " ")
}
