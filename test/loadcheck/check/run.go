package check

import (
	"context"
	"net"
	"net/http"
	"sync"
	"time"
)

// Run sends opts.Users virtual users against opts.URLs for opts.Duration,
// then reads every session back and reports. It stops early when ctx is
// done. The only error is invalid Options: what the workers do wrong is in
// the Report, never an error.
func Run(ctx context.Context, opts Options) (Report, error) {
	if err := opts.Validate(); err != nil {
		return Report{}, err
	}
	opts.setDefaults()
	rt := newTransport(&opts)
	defer rt.CloseIdleConnections()

	bal := newBalancer(len(opts.URLs), opts.Cooldown, opts.Now)
	users := make([]*user, opts.Users)
	for i := range users {
		users[i] = newUser(i, &opts, bal, rt)
	}
	start := opts.Now()
	each(users, func(u *user) { u.run(ctx, start.Add(opts.Duration)) })
	elapsed := opts.Now().Sub(start)
	// The read-back starts only when every user has stopped, so no write is
	// in flight while sessions are verified.
	each(users, func(u *user) { u.readBack(ctx) })
	return summarize(users, len(opts.URLs), elapsed), nil
}

// each runs f for every user in its own goroutine and waits for all.
func each(users []*user, f func(*user)) {
	var wg sync.WaitGroup
	for _, u := range users {
		wg.Go(func() { f(u) })
	}
	wg.Wait()
}

// newTransport keeps one idle connection per user and worker, so the load
// is not dominated by connection set-up, and never uses a proxy from the
// environment: the workers are on loopback.
func newTransport(opts *Options) *http.Transport {
	return &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: opts.Timeout}).DialContext,
		MaxIdleConnsPerHost: opts.Users,
		DisableCompression:  true,
		IdleConnTimeout:     30 * time.Second,
	}
}
