package check

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// ErrInvalidOptions is wrapped by every Options.Validate error.
var ErrInvalidOptions = errors.New("loadcheck: invalid options")

// Options configures a Run. Start from DefaultOptions; the zero value of every
// field but URLs means its default.
type Options struct {
	// URLs are the base URLs of the workers, e.g. "http://127.0.0.1:8080".
	// Required. Only loopback hosts are accepted: loadcheck is a test tool
	// and must never be pointed at someone else's server.
	URLs []string

	// Users is the number of virtual users, each with its own cookie jar
	// and its own sequential stream of requests. Default 50.
	Users int

	// Duration is how long the users send requests; the read-back of every
	// session follows. Default 30s.
	Duration time.Duration

	// Reads and Writes give the mix: a request is a write (ReadPath's
	// sibling WritePath, which increments the counter) with probability
	// Writes/(Reads+Writes). Both zero means the default 9:1.
	Reads, Writes int

	// Timeout bounds one attempt of one request. A worker frozen by SIGSTOP
	// costs each user at most this much before the balancer moves on.
	// Default 2s.
	Timeout time.Duration

	// NoFailover turns the balancer's retry off: by default a request that
	// fails with a transport error or a 502/503/504 is retried on the next
	// worker (like nginx's proxy_next_upstream), and the failed worker is
	// skipped for Cooldown. Default false (failover on).
	NoFailover bool

	// Cooldown is how long the balancer skips a worker after a failed
	// attempt (a passive health check). Default 1s.
	Cooldown time.Duration

	// ReadBackAttempts bounds the attempts to read each session back at the
	// end, spread over the workers. Default 10.
	ReadBackAttempts int

	// WritePath increments the session's counter and answers "N\n".
	// Default "/".
	WritePath string

	// ReadPath answers the counter as "N\n" without changing it.
	// Default "/peek".
	ReadPath string

	// Seed makes each user's choice of reads and writes reproducible.
	// Default 0 (a fixed seed, not a random one).
	Seed uint64

	// Stop, when set, ends the load phase early once it is closed; the
	// read-back still runs. A test that injects faults sets a long Duration
	// as a bound, and closes Stop when the faults have healed. Default nil.
	Stop <-chan struct{}

	// Progress, when set, is updated after every request of the load
	// phase. Default nil.
	Progress *Progress

	// Now is the clock used for latencies, the run's end and the
	// balancer's cooldown. Default time.Now.
	Now func() time.Time
}

// DefaultOptions returns Options with every default filled in and the given
// worker URLs.
func DefaultOptions(urls ...string) Options {
	o := Options{URLs: urls}
	o.setDefaults()
	return o
}

func (o *Options) setDefaults() {
	if o.Users == 0 {
		o.Users = 50
	}
	if o.Duration == 0 {
		o.Duration = 30 * time.Second
	}
	if o.Reads == 0 && o.Writes == 0 {
		o.Reads, o.Writes = 9, 1
	}
	if o.Timeout == 0 {
		o.Timeout = 2 * time.Second
	}
	if o.Cooldown == 0 {
		o.Cooldown = time.Second
	}
	if o.ReadBackAttempts == 0 {
		o.ReadBackAttempts = 10
	}
	o.setPathDefaults()
	if o.Now == nil {
		o.Now = time.Now
	}
}

func (o *Options) setPathDefaults() {
	if o.WritePath == "" {
		o.WritePath = "/"
	}
	if o.ReadPath == "" {
		o.ReadPath = "/peek"
	}
}

// Validate reports the first field of o that is out of range, naming the
// field and what is allowed. Zero values are allowed: they mean defaults.
func (o *Options) Validate() error {
	switch {
	case len(o.URLs) == 0:
		return invalid("URLs", "must name at least one worker")
	case o.Users < 0:
		return invalid("Users", "must be positive, or 0 for the default of 50")
	case o.Duration < 0:
		return invalid("Duration", "must be positive, or 0 for the default of 30s")
	case o.Reads < 0 || o.Writes < 0:
		return invalid("Reads/Writes", "must not be negative")
	case o.Timeout < 0 || o.Cooldown < 0 || o.ReadBackAttempts < 0:
		return invalid("Timeout/Cooldown/ReadBackAttempts", "must not be negative (0 means the default)")
	}
	for _, u := range o.URLs {
		if err := checkURL(u); err != nil {
			return err
		}
	}
	return nil
}

// checkURL accepts only http(s) URLs whose host is a loopback address.
func checkURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return invalid("URLs", fmt.Sprintf("has %q: %v", raw, err))
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return invalid("URLs", fmt.Sprintf("has %q: scheme must be http or https", raw))
	}
	if !loopback(u.Hostname()) {
		return invalid("URLs", fmt.Sprintf("has %q: host must be loopback (127.0.0.0/8, ::1 or localhost)", raw))
	}
	return nil
}

func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func invalid(field, rule string) error {
	return fmt.Errorf("%w: %s %s", ErrInvalidOptions, field, rule)
}

// ParseMix parses a read:write mix such as "9:1" (nine reads to one write),
// "0:1" (writes only) or "1:0" (reads only).
func ParseMix(s string) (reads, writes int, err error) {
	r, w, ok := strings.Cut(s, ":")
	if !ok {
		return 0, 0, invalid("mix", fmt.Sprintf("%q must be READS:WRITES, e.g. 9:1", s))
	}
	reads, err1 := strconv.Atoi(strings.TrimSpace(r))
	writes, err2 := strconv.Atoi(strings.TrimSpace(w))
	if err1 != nil || err2 != nil || reads < 0 || writes < 0 || reads+writes == 0 {
		return 0, 0, invalid("mix", fmt.Sprintf("%q must be two non-negative integers, not both 0", s))
	}
	return reads, writes, nil
}
