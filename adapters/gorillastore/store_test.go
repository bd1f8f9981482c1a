package gorillastore_test

import (
	"context"
	"encoding/gob"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/sessions"
	"github.com/sessionmesh/sessionmesh/adapters/gorillastore"
	"github.com/sessionmesh/sessionmesh/session"
)

// user is a struct value, which gob needs registered (as it does with
// gorilla's own stores).
type user struct {
	Name  string
	Roles []string
}

func init() { gob.Register(user{}) }

func TestRoundTripAcrossRequests(t *testing.T) {
	eachBackend(t, func(t *testing.T, st session.Store) {
		gs := gorillastore.New(st)
		c := newClient(t, counter(gs, "sid"))
		for i, want := range []string{"new 1", "old 2", "old 3"} {
			if _, got := c.get("/"); got != want {
				t.Fatalf("request %d: got %q, want %q", i+1, got, want)
			}
		}
		rec, found := stored(t, st, c.cookie("sid"))
		if !found || !slices.Equal(rec.Keys(), []string{"n"}) {
			t.Fatalf("the store holds %v (found %v) under the cookie's token; want the key n", rec.Keys(), found)
		}
	})
}

func TestValuesKeepTheirTypes(t *testing.T) {
	eachBackend(t, func(t *testing.T, st session.Store) {
		gs := gorillastore.New(st)
		want := map[any]any{
			"int": 7, "string": "x", "float": 1.5, "bytes": []byte{0, 1},
			"user": user{Name: "alice", Roles: []string{"admin"}},
			"list": []any{"a", 1}, "nil": nil,
		}
		c := newClient(t, func(w http.ResponseWriter, r *http.Request) {
			s, err := gs.Get(r, "sid")
			if fail(w, err) {
				return
			}
			if r.URL.Path == "/set" {
				for k, v := range want {
					s.Values[k] = v
				}
				fail(w, s.Save(r, w))
				return
			}
			for k, v := range want {
				if got := s.Values[k]; fmt.Sprintf("%#v", got) != fmt.Sprintf("%#v", v) {
					fmt.Fprintf(w, "%s: got %#v, want %#v\n", k, got, v)
				}
			}
		})
		c.get("/set")
		if _, got := c.get("/check"); got != "" {
			t.Fatal(got)
		}
	})
}

func TestFlashesAreShownOnce(t *testing.T) {
	eachBackend(t, func(t *testing.T, st session.Store) {
		gs := gorillastore.New(st)
		c := newClient(t, func(w http.ResponseWriter, r *http.Request) {
			s, err := gs.Get(r, "sid")
			if fail(w, err) {
				return
			}
			var shown string
			if r.URL.Path == "/add" {
				s.AddFlash("saved")
				s.AddFlash("twice")
				s.AddFlash("warned", "warnings")
			} else {
				shown = fmt.Sprint(s.Flashes(), s.Flashes("warnings"))
			}
			if fail(w, s.Save(r, w)) {
				return
			}
			io.WriteString(w, shown)
		})
		c.get("/add")
		if _, got := c.get("/"); got != "[saved twice] [warned]" {
			t.Fatalf("next page shows %q", got)
		}
		if _, got := c.get("/"); got != "[] []" {
			t.Fatalf("the page after shows %q; flashes must be shown once", got)
		}
	})
}

func TestMaxAgeNegativeDeletes(t *testing.T) {
	eachBackend(t, func(t *testing.T, st session.Store) {
		gs := gorillastore.New(st)
		count := counter(gs, "sid")
		c := newClient(t, func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != "/logout" {
				count(w, r)
				return
			}
			s, err := gs.Get(r, "sid")
			if fail(w, err) {
				return
			}
			s.Options.MaxAge = -1
			fail(w, s.Save(r, w))
		})
		c.get("/")
		token := c.cookie("sid")
		resp, _ := c.get("/logout")
		if ck := resp.Cookies(); len(ck) != 1 || ck[0].MaxAge != -1 || ck[0].Value != "" {
			t.Fatalf("logout sent %v; want the cookie expired", ck)
		}
		if _, found := stored(t, st, token); found {
			t.Fatal("the session is still in the store after MaxAge -1")
		}
		if c.cookie("sid") != "" {
			t.Fatal("the client kept the cookie")
		}
		c.setCookie("sid", token) // an old copy of the cookie
		if _, got := c.get("/"); got != "new 1" {
			t.Fatalf("the deleted session's cookie gave %q; want a new session", got)
		}
	})
}

func TestUnknownCookieIsNeverAdopted(t *testing.T) {
	eachBackend(t, func(t *testing.T, st session.Store) {
		gs := gorillastore.New(st)
		c := newClient(t, counter(gs, "sid"))
		for _, forged := range []string{session.NewID(), "not-an-id", strings.Repeat("x", 5000)} {
			c.setCookie("sid", forged)
			if _, got := c.get("/"); got != "new 1" {
				t.Fatalf("forged cookie %.20q: got %q, want a new session", forged, got)
			}
			token := c.cookie("sid")
			if token == forged || !session.ValidID(token) {
				t.Fatalf("forged cookie %.20q: the new session's token is %.20q; want a fresh ID", forged, token)
			}
			if _, found := stored(t, st, forged); found {
				t.Fatalf("the store holds a session under the forged token %.20q", forged)
			}
		}
	})
}

func TestTwoSessionsByName(t *testing.T) {
	eachBackend(t, func(t *testing.T, st session.Store) {
		gs := gorillastore.New(st)
		c := newClient(t, func(w http.ResponseWriter, r *http.Request) {
			a, errA := gs.Get(r, "user")
			b, errB := gs.Get(r, "admin")
			again, errC := gs.Get(r, "user")
			if fail(w, errors.Join(errA, errB, errC)) {
				return
			}
			if again != a {
				fail(w, errors.New("a second Get of one name returned another session"))
				return
			}
			na, _ := a.Values["n"].(int)
			nb, _ := b.Values["n"].(int)
			a.Values["n"], b.Values["n"] = na+1, nb+10
			if fail(w, sessions.Save(r, w)) { // gorilla's: saves every session of the request
				return
			}
			fmt.Fprint(w, na+1, nb+10)
		})
		c.get("/")
		if _, got := c.get("/"); got != "2 20" {
			t.Fatalf("got %q; want each session its own counter", got)
		}
		if c.cookie("user") == c.cookie("admin") {
			t.Fatal("both sessions have one token")
		}
	})
}

// Two requests of one session load it, then each changes its own key and
// saves: both changes survive, since Save writes a patch of what changed
// (a Save of the whole map would put back the other key's old value).
func TestConcurrentSavesOfDifferentKeysBothSurvive(t *testing.T) {
	eachBackend(t, func(t *testing.T, st session.Store) {
		gs := gorillastore.New(st)
		var loaded sync.WaitGroup
		c := newClient(t, func(w http.ResponseWriter, r *http.Request) {
			s, err := gs.Get(r, "sid")
			if fail(w, err) {
				return
			}
			if key := r.URL.Query().Get("set"); key != "" {
				loaded.Done()
				loaded.Wait() // both requests have loaded the session
				s.Values[key] = key
				fail(w, s.Save(r, w))
				return
			}
			if r.URL.Path == "/create" {
				s.Values["a"], s.Values["b"] = "old", "old"
			}
			if fail(w, s.Save(r, w)) {
				return
			}
			fmt.Fprint(w, s.Values["a"], " ", s.Values["b"])
		})
		c.get("/create") // a session holding both keys
		loaded.Add(2)
		var done sync.WaitGroup
		for _, key := range []string{"a", "b"} {
			done.Go(func() { c.get("/?set=" + key) })
		}
		done.Wait()
		if _, got := c.get("/"); got != "a b" {
			t.Fatalf("the session holds %q; want both changes", got)
		}
	})
}

// A change that deletes a key a concurrent request did not touch removes
// it, and only it.
func TestDeleteIsAPatchToo(t *testing.T) {
	st := openMemory(t)
	gs := gorillastore.New(st)
	c := newClient(t, func(w http.ResponseWriter, r *http.Request) {
		s, err := gs.Get(r, "sid")
		if fail(w, err) {
			return
		}
		switch r.URL.Path {
		case "/set":
			s.Values["a"], s.Values["b"] = 1, 2
		case "/del":
			delete(s.Values, "a")
		}
		fail(w, s.Save(r, w))
	})
	c.get("/set")
	c.get("/del")
	rec, _ := stored(t, st, c.cookie("sid"))
	if !slices.Equal(rec.Keys(), []string{"b"}) {
		t.Fatalf("stored keys %v; want [b]", rec.Keys())
	}
}

func TestMaxAgeIsTheIdleTimeout(t *testing.T) {
	st := openMemory(t)
	gs := gorillastore.New(st)
	gs.Options.MaxAge = 60
	c := newClient(t, counter(gs, "sid"))
	before := time.Now()
	resp, _ := c.get("/")
	rec, _ := stored(t, st, c.cookie("sid"))
	if idle := rec.Idle.Sub(before); idle < 60*time.Second || idle > 70*time.Second {
		t.Fatalf("idle deadline %v after the request; want 60s", idle)
	}
	if ck := resp.Cookies()[0]; ck.MaxAge != 60 {
		t.Fatalf("cookie Max-Age %d; want 60", ck.MaxAge)
	}
}

func TestCookieAttributes(t *testing.T) {
	gs := gorillastore.New(openMemory(t))
	save := func(host string, opts func(*sessions.Options)) (*http.Cookie, error) {
		r := httptest.NewRequest("GET", "http://"+host+"/", nil)
		w := httptest.NewRecorder()
		s, err := gs.Get(r, "sid")
		if err != nil {
			t.Fatal(err)
		}
		opts(s.Options)
		if err := s.Save(r, w); err != nil {
			return nil, err
		}
		return w.Result().Cookies()[0], nil
	}
	same := func(*sessions.Options) {}
	for _, tc := range []struct {
		host, name string
		opts       func(*sessions.Options)
		secure     bool
		sameSite   http.SameSite
	}{
		{"localhost:8080", "defaults on plain HTTP to loopback", same, false, http.SameSiteLaxMode},
		{"example.com", "defaults elsewhere", same, true, http.SameSiteLaxMode},
		{"localhost", "Options.Secure", func(o *sessions.Options) { o.Secure = true }, true, http.SameSiteLaxMode},
		{"example.com", "HttpOnly cannot be turned off", func(o *sessions.Options) { o.HttpOnly = false }, true, http.SameSiteLaxMode},
		{"example.com", "Options replaced wholesale", func(o *sessions.Options) { *o = sessions.Options{MaxAge: 60} }, true, http.SameSiteLaxMode},
		{"example.com", "SameSite Strict", func(o *sessions.Options) { o.SameSite = http.SameSiteStrictMode }, true, http.SameSiteStrictMode},
	} {
		ck, err := save(tc.host, tc.opts)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if !ck.HttpOnly || ck.Secure != tc.secure || ck.SameSite != tc.sameSite || ck.Path != "/" {
			t.Errorf("%s: cookie %v; want HttpOnly, Path=/, Secure %v, SameSite %v", tc.name, ck, tc.secure, tc.sameSite)
		}
	}
	_, err := save("example.com", func(o *sessions.Options) { o.SameSite = http.SameSiteNoneMode })
	if !errors.Is(err, session.ErrInvalidConfig) || !strings.Contains(err.Error(), "SameSite") {
		t.Fatalf("SameSite None without Secure: %v; want an error naming SameSite", err)
	}
	ck, _ := save("example.com", func(o *sessions.Options) { o.MaxAge = 0 })
	if ck.MaxAge != 0 || !ck.Expires.IsZero() {
		t.Fatalf("MaxAge 0: cookie %v; want a browser-session cookie", ck)
	}
}

func TestSaveRefusesWhatItCannotStore(t *testing.T) {
	type unregistered struct{ X int }
	st := openMemory(t)
	gs := gorillastore.New(st)
	for _, tc := range []struct {
		key, val any
		want     string
	}{
		{42, "v", "key 42 is a int; only string keys are supported"},
		{"", "v", `key "": want 1 to 256 bytes`},
		{"\x00flash\x00x", "v", "NUL byte"},
		{"k", unregistered{1}, `value of key "k" (a gorillastore_test.unregistered) cannot be encoded`},
		{"k", func() {}, `value of key "k" (a func())`},
	} {
		r := httptest.NewRequest("GET", "/", nil)
		w := httptest.NewRecorder()
		s, _ := gs.Get(r, "sid")
		s.Values["ok"] = 1
		s.Values[tc.key] = tc.val
		err := s.Save(r, w)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("key %#v: %v; want an error containing %q", tc.key, err, tc.want)
		}
		if len(w.Result().Cookies()) != 0 || st.Stats().Sessions != 0 {
			t.Errorf("key %#v: a refused Save wrote something", tc.key)
		}
	}
}

func TestSaveNeedsTheSessionsRequest(t *testing.T) {
	gs := gorillastore.New(openMemory(t))
	r := httptest.NewRequest("GET", "/", nil)
	s, _ := gs.Get(r, "sid")
	err := s.Save(httptest.NewRequest("GET", "/", nil), httptest.NewRecorder())
	if err == nil || !strings.Contains(err.Error(), "was not loaded by this Store for this request") {
		t.Fatalf("Save with another request: %v", err)
	}
	s.Options = nil
	if err := s.Save(r, httptest.NewRecorder()); err == nil || !strings.Contains(err.Error(), "nil Options") {
		t.Fatalf("Save with nil Options: %v", err)
	}
}

// A store that fails on load must not make Save replace the user's
// session with a new one.
func TestLoadFailureBlocksSave(t *testing.T) {
	st := openMemory(t)
	gs := gorillastore.New(st)
	c := newClient(t, counter(gs, "sid"))
	c.get("/")
	r := httptest.NewRequest("GET", "/", nil)
	r.AddCookie(&http.Cookie{Name: "sid", Value: c.cookie("sid")})
	st.Close()
	s, err := gs.Get(r, "sid")
	if !errors.Is(err, session.ErrClosed) {
		t.Fatalf("Get on a closed store: %v", err)
	}
	w := httptest.NewRecorder()
	if err := s.Save(r, w); !errors.Is(err, session.ErrClosed) || !strings.Contains(err.Error(), "nothing saved") {
		t.Fatalf("Save after a failed load: %v", err)
	}
	if len(w.Result().Cookies()) != 0 {
		t.Fatal("Save after a failed load sent a cookie")
	}
}

// A value this binary cannot decode is named, left out, and kept.
func TestUndecodableValueIsLeftOutAndKept(t *testing.T) {
	st := openMemory(t)
	id := session.NewID()
	_, err := st.Save(context.Background(), "", session.Patch{NewID: id, Set: map[string][]byte{"bad": []byte("junk"), "ok": mustEncode(t, 1)},
		Now: time.Now(), Idle: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	gs := gorillastore.New(st)
	r := httptest.NewRequest("GET", "/", nil)
	r.AddCookie(&http.Cookie{Name: "sid", Value: id})
	s, err := gs.Get(r, "sid")
	if err == nil || !strings.Contains(err.Error(), `["bad"]`) || s.Values["ok"] != 1 || s.IsNew {
		t.Fatalf("Get: %v, values %v; want an error naming bad and ok=1", err, s.Values)
	}
	s.Values["ok"] = 2
	if err := s.Save(r, httptest.NewRecorder()); err != nil {
		t.Fatal(err)
	}
	rec, _ := stored(t, st, id)
	if string(rec.Values["bad"]) != "junk" {
		t.Fatalf("the undecodable value became %q; want it kept", rec.Values["bad"])
	}
}

// mustEncode encodes v as the adapter does, by saving it through a session.
func mustEncode(t *testing.T, v any) []byte {
	st := openMemory(t)
	gs := gorillastore.New(st)
	r := httptest.NewRequest("GET", "/", nil)
	s, _ := gs.Get(r, "sid")
	s.Values["v"] = v
	if err := s.Save(r, httptest.NewRecorder()); err != nil {
		t.Fatal(err)
	}
	rec, _ := stored(t, st, s.ID)
	return rec.Values["v"]
}
