package httpmw

import (
	"net/http"
	"slices"
	"strings"
	"testing"
)

// tokenHeaders are Cookie headers (lines split at "\n") that tokens must
// read exactly as net/http's CookiesNamed does.
var tokenHeaders = []string{
	"",
	"sid=abc",
	"sid=abc; other=1",
	"other=1; sid=abc; sid=def",
	"  sid = abc ;;; sid=\t",
	"sid=\"quoted\"; sid=\"half; sid=\"",
	"sid=bad\\value; sid=bad\"q; sid=ctl\x01; sid=\x7f; sid=good",
	"sid=a=b=c; sid; =sid; SID=upper; sidx=1; xsid=2",
	"sid=abc\nsid=def; x=1\n sid=ghi ",
	"__Host-sid=host; sid=plain",
	"sid=with space; sid=comma,ok",
	strings.Repeat("x=1; ", maxQuickCookies) + "sid=last",       // beyond the quick path
	strings.Repeat("x=1; ", maxQuickCookies-2) + "sid=last",     // at its edge
	strings.Repeat("x=1; ", 3100) + "sid=past-net/http's-limit", // net/http reads none
}

func TestTokensReadLikeCookiesNamed(t *testing.T) {
	for _, name := range []string{"sid", "__Host-sid"} {
		for _, h := range tokenHeaders {
			checkTokens(t, name, h)
		}
	}
}

func FuzzTokens(f *testing.F) {
	for _, h := range tokenHeaders {
		f.Add(h)
	}
	f.Fuzz(func(t *testing.T, h string) { checkTokens(t, "sid", h) })
}

// checkTokens compares tokens with CookiesNamed on the Cookie header h.
func checkTokens(t *testing.T, name, h string) {
	t.Helper()
	r := &http.Request{Header: http.Header{}}
	if h != "" {
		r.Header["Cookie"] = strings.Split(h, "\n")
	}
	var want []string
	for _, c := range r.CookiesNamed(name) {
		want = append(want, c.Value)
	}
	got := (&middleware{name: name}).tokens(r, nil)
	if !slices.Equal(got, want) {
		t.Errorf("cookie %s in %.80q: tokens = %q, CookiesNamed = %q", name, h, got, want)
	}
}
