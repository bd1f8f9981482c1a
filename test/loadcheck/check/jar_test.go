package check

import (
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/sessionmesh/sessionmesh/stores/storetest"
)

func TestSiteJarIsOneSiteAcrossHosts(t *testing.T) {
	clock := storetest.NewClock(time.Unix(1000, 0))
	j := newSiteJar(clock.Now)
	a, _ := url.Parse("http://127.0.0.1:8080/")
	b, _ := url.Parse("http://localhost:8081/peek")

	j.SetCookies(a, []*http.Cookie{{Name: "sid", Value: "one"}})
	if got := j.Cookies(b); len(got) != 1 || got[0].Value != "one" {
		t.Fatalf("cookies for another worker = %v, want sid=one", got)
	}
	j.SetCookies(b, []*http.Cookie{{Name: "sid", Value: "two"}})
	if got := j.Cookies(a); len(got) != 1 || got[0].Value != "two" {
		t.Fatalf("cookies after replacement = %v, want sid=two", got)
	}
	j.SetCookies(a, []*http.Cookie{{Name: "sid", MaxAge: -1}})
	if got := j.Cookies(a); len(got) != 0 {
		t.Fatalf("cookies after Max-Age=0 = %v, want none", got)
	}
	j.SetCookies(a, []*http.Cookie{{Name: "sid", Value: "old", Expires: clock.Now().Add(-time.Second)}})
	if got := j.Cookies(a); len(got) != 0 {
		t.Fatalf("cookies after an expired Set-Cookie = %v, want none", got)
	}
}
