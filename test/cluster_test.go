package test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/sessionmesh/sessionmesh/internal/testutil"
	"github.com/sessionmesh/sessionmesh/test/loadcheck/check"
	"github.com/sessionmesh/sessionmesh/test/worker"
)

// TestClusterCounterAcrossThreeWorkers is the cluster's end-to-end test:
// three real demo processes on loopback form one cluster over the memory
// store, and one user's counter goes 1..10 while its requests go
// round-robin over the three, so every worker reads what the others wrote.
func TestClusterCounterAcrossThreeWorkers(t *testing.T) {
	p := worker.Start(t, 3, worker.Config{Env: worker.ClusterEnv(worker.NewSecret())})
	waitClusterFormed(t, p, 3)
	urls := p.URLs()
	b := newBrowser(t)
	served := map[string]int{}
	for want := 1; want <= 10; want++ {
		url := urls[(want-1)%len(urls)]
		n, by := b.counter(url + "/")
		if n != want {
			t.Fatalf("request %d to %s (served by %q): counter = %d, want %d", want, url, by, n, want)
		}
		served[by]++
	}
	for _, w := range p.Workers() {
		if served[w.Name()] == 0 {
			t.Errorf("X-Served-By never named %s: served %v", w.Name(), served)
		}
	}
	// Each worker reads the final value too.
	for _, url := range urls {
		if n, by := b.counter(url + "/peek"); n != 10 {
			t.Errorf("GET %s/peek (served by %s) = %d, want 10", url, by, n)
		}
	}
}

// TestClusterUnderLoad: three cluster workers behind the round-robin
// balancer, read-mostly load from many users. Nothing fails, nothing is
// lost, and no user ever sees another's counter.
func TestClusterUnderLoad(t *testing.T) {
	p := worker.Start(t, 3, worker.Config{Env: worker.ClusterEnv(worker.NewSecret())})
	waitClusterFormed(t, p, 3)
	r, err := check.Run(context.Background(), check.Options{URLs: p.URLs(), Users: 30, Duration: *loadFor,
		Timeout: patient})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("report:\n%s", r)
	if r.Requests < 100 || r.AckedWrites == 0 {
		t.Fatalf("only %d requests, %d acked writes: the load did not run", r.Requests, r.AckedWrites)
	}
	if !r.OK() || r.Failures != 0 || r.LostSessions != 0 || r.Unexpected != 0 {
		t.Errorf("failures=%d lost writes=%d lost sessions=%d unexpected=%d unverified=%d; want all 0",
			r.Failures, r.LostWrites, r.LostSessions, r.Unexpected, r.Unverified)
	}
	for _, w := range p.Workers() {
		if r.ServedBy[w.Name()] == 0 {
			t.Errorf("%s served nothing: %v", w.Name(), r.ServedBy)
		}
	}
}

// waitClusterFormed waits until every worker's GET /cluster lists n
// members: the workers are ready one by one, but a user's "one cluster" is
// the moment they all see each other.
func waitClusterFormed(t *testing.T, p *worker.Pool, n int) {
	t.Helper()
	client := &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	testutil.EventuallyNil(t, 15*time.Second, fmt.Sprintf("every worker to see %d members", n), func() error {
		for _, w := range p.Workers() {
			if err := members(client, w.AdminURL(), n); err != nil {
				return err
			}
		}
		return nil
	})
}

// members checks that GET /cluster on the admin listener at url lists n
// members.
func members(client *http.Client, url string, n int) error {
	resp, err := client.Get(url + "/cluster")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var st struct {
		Members []struct{ Name string } `json:"members"`
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s/cluster: %s", url, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		return fmt.Errorf("GET %s/cluster: %w", url, err)
	}
	if len(st.Members) != n {
		return fmt.Errorf("GET %s/cluster: %d members %v, want %d", url, len(st.Members), st.Members, n)
	}
	return nil
}
