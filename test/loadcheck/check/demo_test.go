package check_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
)

// demo is an in-process stand-in for cmd/demo, with the same protocol:
// "/" increments the session's counter and answers "N\n", "/peek" answers
// it unchanged, the session is named by the sid cookie and an unknown sid
// gets a fresh session. Its fault switches break it on purpose, so the
// tests can prove the checker catches each kind of breakage.
type demo struct {
	loseThirdWrite bool // acknowledge the 3rd write of each session without storing it
	forgetAtFive   bool // drop each first-generation session when it would reach 5
	failEvery      int  // answer 500 to every n-th request (0: never)
	ignoreCookies  bool // one global counter for everyone, starting at 1000
	dropAnswer     int  // apply every n-th write, then close its connection unanswered (0: never)

	mu       sync.Mutex       // guards the fields below
	sessions map[string]*sess // by sid
	requests int
	nextID   int
	global   int
}

type sess struct {
	counter, writes int
	reborn          bool // created for a client whose sid no longer loaded
}

// serve starts an HTTP server for d on loopback, answering as name, and
// returns its base URL. Several servers may share one demo: a cluster.
func (d *demo) serve(t *testing.T, name string) string {
	d.mu.Lock()
	if d.sessions == nil {
		d.sessions, d.global = map[string]*sess{}, 1000
	}
	d.mu.Unlock()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Served-By", name)
		d.handle(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func (d *demo) handle(w http.ResponseWriter, r *http.Request) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.requests++
	if d.failEvery > 0 && d.requests%d.failEvery == 0 {
		http.Error(w, "failing on purpose", http.StatusInternalServerError)
		return
	}
	write := r.URL.Path == "/"
	if d.ignoreCookies {
		if write {
			d.global++
		}
		fmt.Fprintf(w, "%d\n", d.global)
		return
	}
	s := d.sessionLocked(w, r, write)
	n := d.applyLocked(w, s, write)
	if write && d.dropAnswer > 0 && s.writes%d.dropAnswer == 0 {
		// A worker killed after the write, before its answer: the
		// connection closes with nothing on it.
		if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
			conn.Close()
			return
		}
	}
	fmt.Fprintf(w, "%d\n", n)
}

// sessionLocked loads the client's session; for a write it creates one when
// there is none, and sets the cookie.
func (d *demo) sessionLocked(w http.ResponseWriter, r *http.Request, write bool) *sess {
	c, err := r.Cookie("sid")
	if err == nil && d.sessions[c.Value] != nil {
		return d.sessions[c.Value]
	}
	if !write {
		return &sess{}
	}
	return d.createLocked(w, err == nil)
}

func (d *demo) createLocked(w http.ResponseWriter, reborn bool) *sess {
	d.nextID++
	id := "s" + strconv.Itoa(d.nextID)
	s := &sess{reborn: reborn}
	d.sessions[id] = s
	http.SetCookie(w, &http.Cookie{Name: "sid", Value: id, Path: "/"})
	return s
}

// applyLocked applies a write to s (or not, as the faults say) and returns
// the counter to answer.
func (d *demo) applyLocked(w http.ResponseWriter, s *sess, write bool) int {
	if !write {
		return s.counter
	}
	s.writes++
	if d.forgetAtFive && s.counter == 4 && !s.reborn {
		for id, other := range d.sessions {
			if other == s {
				delete(d.sessions, id)
			}
		}
		s = d.createLocked(w, true)
	}
	if d.loseThirdWrite && s.writes == 3 {
		return s.counter + 1
	}
	s.counter++
	return s.counter
}

// hangingURL returns the URL of a server that accepts requests and never
// answers until hung is closed: a worker frozen by SIGSTOP.
func hangingURL(t *testing.T, hung <-chan struct{}) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-hung:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}
