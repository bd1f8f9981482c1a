package test

import (
	"testing"

	"github.com/sessionmesh/sessionmesh/test/worker"
)

// TestClusterCounterAcrossThreeWorkers is issue 4's end-to-end test: three
// real demo processes on loopback form one cluster over the memory store,
// and one user's counter goes 1..10 while its requests go round-robin over
// the three, so every worker reads what the others wrote.
func TestClusterCounterAcrossThreeWorkers(t *testing.T) {
	p := worker.Start(t, 3, worker.Config{Env: worker.ClusterEnv(worker.NewSecret())})
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
