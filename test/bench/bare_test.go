package main

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
)

// The bare handler answers like the demo's counter: a cookie on the first
// visit, "N\n", and /peek reads without counting.
func TestBareCounter(t *testing.T) {
	h := newBareCounter()
	get := func(path, cookie string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodGet, path, nil)
		if cookie != "" {
			req.Header.Set("Cookie", cookie)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	first := get("/", "")
	cookies := first.Result().Cookies()
	if first.Code != 200 || first.Body.String() != "1\n" || len(cookies) != 1 || cookies[0].Name != "sid" || len(cookies[0].Value) != 43 {
		t.Fatalf("first GET /: %d %q cookies %v; want 200 \"1\" and a sid of 43 characters", first.Code, first.Body, cookies)
	}
	sid := "sid=" + cookies[0].Value
	if r := get("/", sid); r.Body.String() != "2\n" || r.Header().Get("Set-Cookie") != "" {
		t.Errorf("second GET /: %q, Set-Cookie %q; want \"2\" and no cookie", r.Body, r.Header().Get("Set-Cookie"))
	}
	if r := get("/peek", sid); r.Body.String() != "2\n" || !slices.Equal(r.Header().Values("Vary"), []string{"Accept", "Cookie"}) {
		t.Errorf("GET /peek: %q, Vary %q; want \"2\" and the demo's Vary: Accept, Vary: Cookie", r.Body, r.Header().Values("Vary"))
	}
	if r := get("/peek", sid); r.Body.String() != "2\n" {
		t.Errorf("GET /peek again: %q, want \"2\": /peek does not count", r.Body)
	}
	if r := get("/other", sid); r.Code != 404 {
		t.Errorf("GET /other: %d, want 404", r.Code)
	}
}
