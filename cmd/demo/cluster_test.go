package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionmesh/sessionmesh/cluster"
	"github.com/sessionmesh/sessionmesh/internal/testutil"
	"github.com/sessionmesh/sessionmesh/stores/storetest"
)

// testSecret is the cluster secret of the tests' workers (base64 of 32 bytes).
const testSecret = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="

// A worker on the shared memory store names the owner of the session and
// shows the cluster on its admin listener; a worker on another store says
// it is not a cluster.
func TestRunOnClusterShowsOwnerAndStatus(t *testing.T) {
	s := start(t, []string{"-name", "w1"}, loneNodeEnv)
	// A node owns no partition before it is ready, so no session has an
	// owner yet: users come once /readyz says so.
	if !testutil.Poll(10*time.Second, func() bool { code, _, _ := httpGet(t, s.url+"/readyz"); return code == 200 }) {
		t.Fatalf("a lone cluster node never became ready\n%s", s.log)
	}
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar}
	resp, err := client.Get(s.url + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	owner := resp.Header.Get("X-Session-Owner")
	if owner == "" {
		t.Fatalf("GET / on a cluster sent no X-Session-Owner (headers %v)", resp.Header)
	}

	// Session counts come from each node's last full scan (its
	// anti-entropy round), so the new session shows up within a round.
	var st cluster.Status
	counted := testutil.Poll(15*time.Second, func() bool {
		code, body, _ := httpGet(t, s.admin+"/cluster?verbose=1")
		if code != 200 || json.Unmarshal([]byte(body), &st) != nil {
			t.Fatalf("admin /cluster?verbose=1 = %d %q, want 200 with JSON", code, body)
		}
		return len(st.Members) == 1 && st.Members[0].Sessions == 1
	})
	if !counted || st.Members[0].Name != owner {
		t.Fatalf("/cluster members = %+v, want one member %q holding 1 session", st.Members, owner)
	}
	if len(st.Members[0].Primary) != st.Partitions {
		t.Errorf("the only member is primary for %d of %d partitions", len(st.Members[0].Primary), st.Partitions)
	}
}

// loneNodeEnv makes a worker a one-node cluster on loopback.
func loneNodeEnv(k string) (string, bool) {
	v, ok := map[string]string{"SESSIONS_CLUSTER_BIND": "127.0.0.1:0", "SESSIONS_CLUSTER_SECRET": testSecret}[k]
	return v, ok
}

// GET /cluster names nodes and internal addresses and costs peer calls:
// the application's port does not serve it, the admin listener does, by
// default as a summary without the partition lists (audit M3).
func TestClusterStatusOnlyOnTheAdminListener(t *testing.T) {
	s := start(t, nil, loneNodeEnv)
	if !testutil.Poll(10*time.Second, func() bool { code, _, _ := httpGet(t, s.admin+"/readyz"); return code == 200 }) {
		t.Fatalf("a lone cluster node never answered 200 on the admin /readyz\n%s", s.log)
	}
	if code, body, _ := httpGet(t, s.url+"/cluster"); code != http.StatusNotFound {
		t.Fatalf("GET /cluster on the application's port = %d %q, want 404", code, body)
	}
	var sum struct {
		Node       string `json:"node"`
		Partitions int    `json:"partitions"`
		Members    []map[string]any
	}
	code, body, _ := httpGet(t, s.admin+"/cluster")
	if code != 200 || json.Unmarshal([]byte(body), &sum) != nil || len(sum.Members) != 1 {
		t.Fatalf("admin GET /cluster = %d %q, want 200 with JSON listing one member", code, body)
	}
	m := sum.Members[0]
	if _, lists := m["primary"]; lists || m["name"] != sum.Node || m["primaries"] != float64(sum.Partitions) {
		t.Errorf("admin GET /cluster member %v: want its name, primaries = %d and no partition list", m, sum.Partitions)
	}
	for _, key := range []string{"ready", "joining", "draining", "sessions", "underReplicated"} {
		if _, ok := m[key]; !ok {
			t.Errorf("admin GET /cluster member %v has no %q", m, key)
		}
	}
	if len(body) > 2000 {
		t.Errorf("admin GET /cluster is %d bytes for one member; the summary should be small", len(body))
	}
}

func TestRunWithoutClusterHasNoClusterPage(t *testing.T) {
	s := start(t, nil, noEnv)
	if code, _, h := httpGet(t, s.url+"/"); code != 200 || h.Get("X-Session-Owner") != "" {
		t.Fatalf("GET / = %d with X-Session-Owner %q, want 200 and none", code, h.Get("X-Session-Owner"))
	}
	for _, url := range []string{s.url, s.admin} {
		if code, _, _ := httpGet(t, url+"/cluster"); code != http.StatusNotFound {
			t.Fatalf("%s/cluster without a cluster = %d, want 404", url, code)
		}
	}
}

// The admin listener is on loopback unless told otherwise, and "off" or
// an empty -admin means none.
func TestAdminListenerDefaultAndOff(t *testing.T) {
	o, err := parseFlags(nil, io.Discard)
	if err != nil || o.admin != "127.0.0.1:8081" {
		t.Fatalf("-admin default = %q (err %v), want 127.0.0.1:8081", o.admin, err)
	}
	for _, off := range []string{"off", ""} {
		s := start(t, []string{"-admin", off}, loneNodeEnv)
		if s.admin != "" || strings.Contains(s.log.String(), "demo: admin") {
			t.Errorf("-admin %q: admin listener at %q, log:\n%s", off, s.admin, s.log)
		}
	}
}

// countingCluster is a clusterStore whose Status counts its calls.
type countingCluster struct{ calls atomic.Int32 }

func (c *countingCluster) Owner(string) string { return "n1" }

func (c *countingCluster) Status(context.Context) cluster.Status {
	c.calls.Add(1)
	return cluster.Status{Node: "n1", Members: []cluster.MemberStatus{{Name: "n1", Primary: []int{0, 1}}}}
}

// A flood of GET /cluster asks the members once per second, not once per
// request: each Status costs a peer call to every member (audit M3).
func TestClusterStatusIsCached(t *testing.T) {
	d := demoOn(t, newLifecycleStore(t).Store)
	fake, clock := &countingCluster{}, storetest.NewClock(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	d.cluster, d.status = fake, newStatusCache(fake, clock.Now)
	srv := httptest.NewServer(d.adminRoutes())
	defer srv.Close()
	get := func(path string) {
		t.Helper()
		if code, body, _ := httpGet(t, srv.URL+path); code != 200 || !strings.Contains(body, `"n1"`) {
			t.Fatalf("GET %s = %d %q, want 200 naming n1", path, code, body)
		}
	}
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() { get("/cluster") })
	}
	wg.Wait()
	get("/cluster?verbose=1")
	if n := fake.calls.Load(); n != 1 {
		t.Fatalf("51 requests within a second asked for the Status %d times, want once", n)
	}
	clock.Advance(statusTTL)
	get("/cluster")
	if n := fake.calls.Load(); n != 2 {
		t.Fatalf("a request %v later asked for the Status %d times in all, want a second time", statusTTL, n)
	}
}
