package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"go.uber.org/goleak"

	"github.com/sessionmesh/sessionmesh/test/loadcheck/check"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// counterServer answers the demo's protocol with one counter per sid
// cookie; with lossy set it acknowledges every write but stores none.
func counterServer(t *testing.T, lossy bool) string {
	var mu sync.Mutex
	counters := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		sid := "s" + fmt.Sprint(len(counters))
		if c, err := r.Cookie("sid"); err == nil {
			sid = c.Value
		}
		n := counters[sid]
		if r.URL.Path == "/" {
			n++
			if !lossy {
				counters[sid] = n
			}
			http.SetCookie(w, &http.Cookie{Name: "sid", Value: sid})
		}
		fmt.Fprintf(w, "%d\n", n)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func runCLI(args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = run(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestCLIPassesAndPrintsJSON(t *testing.T) {
	url := counterServer(t, false)
	code, out, errs := runCLI("-urls", url+","+url, "-users", "3", "-duration", "200ms", "-mix", "1:1", "-json")
	if code != 0 {
		t.Fatalf("exit %d, stderr %q", code, errs)
	}
	var r check.Report
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("-json output is not a Report: %v\n%s", err, out)
	}
	if r.Users != 3 || r.Workers != 2 || r.Requests == 0 || r.AckedWrites == 0 || r.LostWrites != 0 {
		t.Errorf("report %+v: want 3 users, 2 workers, requests and acked writes, nothing lost", r)
	}
}

func TestCLIFailsOnLostWrite(t *testing.T) {
	url := counterServer(t, true)
	code, out, errs := runCLI("-urls", url, "-users", "2", "-duration", "100ms", "-mix", "0:1")
	if code != 1 || !strings.Contains(errs, "lost acknowledged writes") {
		t.Fatalf("exit %d, stderr %q: want exit 1 naming the lost writes", code, errs)
	}
	if !strings.Contains(out, "lost writes") {
		t.Errorf("text report lacks the lost writes line:\n%s", out)
	}
}

func TestCLIRejectsBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"-urls", "http://example.com:80"},
		{"-urls", "http://127.0.0.1:1", "-mix", "nine"},
		{"-urls", "http://127.0.0.1:1", "-users", "-3"},
		{"-urls", "http://127.0.0.1:1", "extra"},
		{"-nosuchflag"},
	} {
		code, _, errs := runCLI(args...)
		if code != 2 || errs == "" {
			t.Errorf("loadcheck %q: exit %d, stderr %q; want exit 2 with a message", args, code, errs)
		}
	}
}
