package cluster_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionmesh/sessionmesh/cluster"
	"github.com/sessionmesh/sessionmesh/cluster/clustertest"
	"github.com/sessionmesh/sessionmesh/internal/testutil"
	"github.com/sessionmesh/sessionmesh/session"
)

// load is what a load balancer in front of the cluster would send: users,
// each with its own session, that save counter n+1 through one ready node
// and read it back through the next, one request at a time. A read that
// misses the session or returns less than the last acknowledged value is
// a loss; with strict, any error is a failure too.
type load struct {
	t      *testing.T
	c      *clustertest.Cluster
	strict bool
	users  []*user
	stop   chan struct{}
	wg     sync.WaitGroup

	rotation sync.RWMutex // guards out; held for reading around every request
	out      map[int]bool // nodes taken out of rotation

	mu       sync.Mutex // guards failures
	failures []string
}

type user struct {
	id    string
	acked atomic.Int64
}

// startLoad creates n users' sessions and starts one goroutine per user.
func startLoad(t *testing.T, c *clustertest.Cluster, n int, strict bool) *load {
	l := &load{t: t, c: c, strict: strict, stop: make(chan struct{}), out: map[int]bool{}}
	for i := range n {
		l.users = append(l.users, &user{id: create(t, c.Store(c.Alive()[i%len(c.Alive())]), map[string]any{"n": 0})})
	}
	for i, u := range l.users {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			l.run(u, i)
		}()
	}
	t.Cleanup(l.halt)
	return l
}

func (l *load) run(u *user, k int) {
	for n := int64(1); ; k++ {
		select {
		case <-l.stop:
			return
		default:
		}
		if l.step(u, n, k) {
			n++
		}
	}
}

// step saves n through one node and reads it back through another; it
// reports whether the save was acknowledged.
func (l *load) step(u *user, n int64, k int) bool {
	l.rotation.RLock()
	defer l.rotation.RUnlock()
	nodes := l.ready()
	if len(nodes) == 0 {
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := nodes[k%len(nodes)].Save(ctx, u.id, set(map[string]any{"n": n}))
	if err != nil {
		l.fail(err, "save %s n=%d: %v", u.id, n, err)
		return false
	}
	u.acked.Store(n)
	got, found, err := readN(ctx, nodes[(k+1)%len(nodes)], u.id)
	switch {
	case err != nil:
		l.fail(err, "load %s: %v", u.id, err)
	case !found || got < n:
		l.fail(session.ErrNotFound, "load %s right after n=%d was acknowledged: n=%d found=%v", u.id, n, got, found)
	}
	return true
}

// ready returns the live, ready nodes in rotation.
func (l *load) ready() []*cluster.Store {
	var out []*cluster.Store
	for _, i := range l.c.Alive() {
		if s := l.c.Store(i); !l.out[i] && s.Ready() {
			out = append(out, s)
		}
	}
	return out
}

// fail records a failure; a plain error counts only when strict, a loss
// (err wraps session.ErrNotFound) always.
func (l *load) fail(err error, format string, args ...any) {
	if !l.strict && !errors.Is(err, session.ErrNotFound) {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.failures = append(l.failures, fmt.Sprintf(format, args...))
}

// remove takes node i out of rotation; no request uses it once remove
// returns.
func (l *load) remove(i int) {
	l.rotation.Lock()
	defer l.rotation.Unlock()
	l.out[i] = true
}

// restore puts node i back into rotation.
func (l *load) restore(i int) {
	l.rotation.Lock()
	defer l.rotation.Unlock()
	delete(l.out, i)
}

// progress returns the number of acknowledged saves.
func (l *load) progress() int64 {
	var n int64
	for _, u := range l.users {
		n += u.acked.Load()
	}
	return n
}

// advance waits until the users acknowledged another `more` saves.
func (l *load) advance(more int64) {
	l.t.Helper()
	start := l.progress()
	testutil.Eventually(l.t, converge, fmt.Sprintf("users acknowledge %d more saves", more), func() bool { return l.progress() >= start+more })
}

func (l *load) halt() {
	select {
	case <-l.stop:
	default:
		close(l.stop)
	}
	l.wg.Wait()
}

// check stops the users and fails the test for every failure seen, and
// for every session a live node does not read at its last acknowledged
// value. A read refused for the moment (transient) is retried: it is
// not a loss; a miss or an older value is.
func (l *load) check() {
	l.t.Helper()
	l.halt()
	l.mu.Lock()
	for i, f := range l.failures {
		if i == 10 {
			l.t.Errorf("... and %d more failures", len(l.failures)-10)
			break
		}
		l.t.Error(f)
	}
	l.mu.Unlock()
	for _, u := range l.users {
		for _, i := range l.c.Alive() {
			// A save that failed may still have been applied: more than
			// acknowledged is fine, less is a lost write.
			var n int64
			var found bool
			err := retry(func() (err error) {
				n, found, err = readN(context.Background(), l.c.Store(i), u.id)
				return err
			})
			if err != nil || !found || n < u.acked.Load() {
				l.t.Errorf("node %d reads %s as n=%d found=%v err=%v; last acknowledged %d", i, u.id, n, found, err, u.acked.Load())
			}
		}
	}
}

// readN loads session id through st and decodes its "n".
func readN(ctx context.Context, st session.Store, id string) (int64, bool, error) {
	rec, found, err := st.Load(ctx, id)
	if err != nil || !found {
		return 0, found, err
	}
	var n int64
	if err := json.Unmarshal(rec.Values["n"], &n); err != nil {
		return 0, true, fmt.Errorf("decode n of %s: %w", id, err)
	}
	return n, true, nil
}

// createMany creates n sessions holding {"n": i} through the live nodes,
// in parallel, and returns their IDs. A create refused for the moment
// (transient: a stalled node did not answer in time) is sent again, as
// a client would: the same create, same ID and time, which a node that
// applied it the first time recognises (it only replicates it again).
func createMany(t testing.TB, c *clustertest.Cluster, n int) []string {
	t.Helper()
	ids := make([]string, n)
	var wg sync.WaitGroup
	alive := c.Alive()
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += 4 {
				p := set(map[string]any{"n": i})
				p.NewID = session.NewID()
				if err := retry(func() error {
					_, err := c.Store(alive[i%len(alive)]).Save(context.Background(), "", p)
					return err
				}); err != nil {
					t.Errorf("create session %d: %v", i, err)
					return
				}
				ids[i] = p.NewID
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	return ids
}

// sessionsHeld sums the live sessions every member of the cluster holds,
// as node i's Status reports them once every member has counted since
// the call.
func sessionsHeld(t testing.TB, c *clustertest.Cluster, i int) int {
	t.Helper()
	n := 0
	for _, m := range freshStatus(t, c, i).Members {
		n += m.Sessions
	}
	return n
}

// freshStatus returns node i's Status once every member's session counts
// (taken in its anti-entropy rounds) are from after the call.
func freshStatus(t testing.TB, c *clustertest.Cluster, i int) cluster.Status {
	t.Helper()
	since := time.Now()
	var st cluster.Status
	testutil.Eventually(t, converge, "every member counts its sessions", func() bool {
		st = c.Store(i).Status(context.Background())
		for _, m := range st.Members {
			if m.Error != "" || m.CountedAt.Before(since) {
				return false
			}
		}
		return true
	})
	return st
}

// patient gives the nodes timers that ride out the stalls of a loaded
// test machine (the whole process descheduled for a second or more): long
// call timeouts and slow failure detection, so a stall makes requests
// slow instead of failing them over. Tests that demand zero failed
// requests use it; tests of failures keep the fast local timers.
// availableFirst turns the quorum guard off, for the tests that read
// what a node holds by letting it serve alone.
func availableFirst() clustertest.Option {
	return clustertest.WithConfig(func(_ int, cfg *cluster.Config) { cfg.AvailableFirst = true })
}

func patient() clustertest.Option {
	return clustertest.WithConfig(func(_ int, cfg *cluster.Config) { patientConfig(cfg) })
}

func patientConfig(cfg *cluster.Config) {
	{
		cfg.CallTimeout = 5 * time.Second
		cfg.ProbeTimeout = 500 * time.Millisecond
		cfg.SuspicionMult = 8
	}
}
