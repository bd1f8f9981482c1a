package compose

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

// detectTimeout bounds how long the cluster may take to notice that a
// member vanished, or that it is back (memberlist's LAN timers: a probe a
// second, suspicion for a few more, re-join of the seeds).
const detectTimeout = 60 * time.Second

// view is one worker's answer to GET /cluster: who answered and which
// members it sees (the demo serves cluster.Status; only these fields matter
// here).
type view struct {
	Node    string `json:"node"`
	Members []struct {
		Name string `json:"name"`
	} `json:"members"`
}

// hosts returns the hostnames of the members the view lists. Member names
// are "HOSTNAME-BOOTID": unique per process start, so a restarted worker is
// a new member on the same host.
func (v view) hosts() []string {
	var out []string
	for _, m := range v.Members {
		out = append(out, memberHost(m.Name))
	}
	slices.Sort(out)
	return out
}

// clusterView asks the balancer's admin frontend for GET /cluster once
// (the public one does not forward it to the workers' admin listeners).
func (s *stack) clusterView() (view, error) {
	c := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Get(s.adminURL + "/cluster")
	if err != nil {
		return view{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return view{}, fmt.Errorf("GET /cluster: %s", resp.Status)
	}
	var v view
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
		return view{}, fmt.Errorf("GET /cluster: decode: %w", err)
	}
	return v, nil
}

// waitMembership waits until every worker in ask, reached through the
// balancer, sees exactly the members in want (hostnames): the cluster has
// converged on that membership. It returns how long that took.
func (s *stack) waitMembership(t *testing.T, ask, want []container, what string) time.Duration {
	t.Helper()
	start := time.Now()
	wantHosts := hostnames(want)
	agree := map[string]bool{}
	poll(t, detectTimeout, what, func() (bool, string) {
		var detail []string
		for range 2 * len(ask) {
			v, err := s.clusterView()
			if err != nil {
				detail = append(detail, err.Error())
				continue
			}
			host := memberHost(v.Node)
			agree[host] = slices.Equal(v.hosts(), wantHosts)
			detail = append(detail, fmt.Sprintf("%s sees %v", host, v.hosts()))
		}
		for _, c := range ask {
			if !agree[c.Hostname] {
				return false, fmt.Sprintf("want every one of %v to see %v; last answers: %v", hostnames(ask), wantHosts, detail)
			}
		}
		return true, ""
	})
	took := time.Since(start)
	t.Logf("cluster: %s after %v", what, took.Round(time.Millisecond))
	return took
}

// requireOwnerHeader checks that a counter answer names the session's
// owner, one of the workers, in X-Session-Owner.
func requireOwnerHeader(t *testing.T, s *stack, ws []container) {
	t.Helper()
	resp, err := (&http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}).Get(s.lbURL + "/")
	if err != nil {
		t.Fatalf("compose: GET /: %v", err)
	}
	resp.Body.Close()
	owner := memberHost(resp.Header.Get("X-Session-Owner"))
	if !slices.Contains(hostnames(ws), owner) {
		t.Errorf("X-Session-Owner %q names none of the workers %v", resp.Header.Get("X-Session-Owner"), hostnames(ws))
	}
	t.Logf("GET / answered by %s, session owned by %s", resp.Header.Get("X-Served-By"), resp.Header.Get("X-Session-Owner"))
}

// requireClusterNotPublic checks that the balancer's public port does not
// show the cluster: GET /cluster answers 404 there (audit M3).
func requireClusterNotPublic(t *testing.T, s *stack) {
	t.Helper()
	resp, err := (&http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}).Get(s.lbURL + "/cluster")
	if err != nil {
		t.Fatalf("compose: GET /cluster on the public port: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET /cluster on the balancer's public port = %s, want 404: only the admin port may show the cluster", resp.Status)
	}
}

// memberHost returns the host part of a member name "HOSTNAME-BOOTID".
func memberHost(name string) string {
	if i := strings.LastIndex(name, "-"); i >= 0 {
		return name[:i]
	}
	return name
}

func hostnames(ws []container) []string {
	out := make([]string, len(ws))
	for i, c := range ws {
		out[i] = c.Hostname
	}
	slices.Sort(out)
	return out
}

func without(ws []container, gone container) []container {
	return slices.DeleteFunc(slices.Clone(ws), func(c container) bool { return c.ID == gone.ID })
}

// requireStickyIsLocal checks the balancer's sticky frontend: each of a
// few users is answered by one worker every time, and that worker owns the
// user's session (it minted the ID in a partition it is primary of), so
// the session lives where it is served.
func requireStickyIsLocal(t *testing.T, s *stack) {
	t.Helper()
	for i := range 3 {
		u := newUser(t, s.stickyURL)
		var served, owners []string
		for range 4 {
			code, owner, by, err := u.tryBy("/")
			if err != nil || code != http.StatusOK {
				t.Fatalf("compose: sticky GET /: %d, %v", code, err)
			}
			served, owners = append(served, by), append(owners, memberHost(owner))
		}
		if len(distinct(served)) != 1 || len(distinct(owners)) != 1 || owners[0] != served[0] {
			t.Errorf("sticky user %d: answered by %v, session owned by %v; want one worker that owns it", i, served, owners)
		}
	}
	t.Logf("sticky frontend: each user served by one worker, which owns its session")
}
