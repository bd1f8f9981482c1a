package main

import (
	"encoding/json"
	"net/http"
	"net/http/cookiejar"
	"testing"
	"time"

	"github.com/sessionmesh/sessionmesh/cluster"
	"github.com/sessionmesh/sessionmesh/internal/testutil"
)

// testSecret is the cluster secret of the tests' workers (base64 of 32 bytes).
const testSecret = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="

// A worker on the shared memory store names the owner of the session and
// shows the cluster; a worker on another store says it is not a cluster.
func TestRunOnClusterShowsOwnerAndStatus(t *testing.T) {
	env := func(k string) (string, bool) {
		v, ok := map[string]string{"SESSIONS_CLUSTER_BIND": "127.0.0.1:0", "SESSIONS_CLUSTER_SECRET": testSecret}[k]
		return v, ok
	}
	s := start(t, []string{"-name", "w1"}, env)
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
		code, body, _ := httpGet(t, s.url+"/cluster")
		if code != 200 || json.Unmarshal([]byte(body), &st) != nil {
			t.Fatalf("/cluster = %d %q, want 200 with JSON", code, body)
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

func TestRunWithoutClusterHasNoClusterPage(t *testing.T) {
	s := start(t, nil, noEnv)
	if code, _, h := httpGet(t, s.url+"/"); code != 200 || h.Get("X-Session-Owner") != "" {
		t.Fatalf("GET / = %d with X-Session-Owner %q, want 200 and none", code, h.Get("X-Session-Owner"))
	}
	if code, _, _ := httpGet(t, s.url+"/cluster"); code != http.StatusNotFound {
		t.Fatalf("/cluster without a cluster = %d, want 404", code)
	}
}
