package stores_test

import (
	"errors"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"

	"github.com/sessionmesh/sessionmesh/httpmw"
	"github.com/sessionmesh/sessionmesh/session"
	"github.com/sessionmesh/sessionmesh/stores"
)

// Log out everywhere: the revoke block gives the Manager a Revoker, login
// records the user with SetPrincipal, and RevokePrincipal ends every
// session of the user, here the one of a second device.
func ExampleOpenRevoker() {
	cfg := stores.DefaultConfig()
	cfg.Revoke.Store = "memory" // one worker; "redis" keeps them in the server block's Redis
	st, err := stores.Open(cfg)
	if err != nil {
		log.Fatal(err)
	}
	defer stores.Close(st)
	rv, err := stores.OpenRevoker(cfg, st)
	if err != nil {
		log.Fatal(err)
	}
	defer stores.CloseRevoker(rv)
	sc := cfg.Session(st)
	sc.Revoker = rv
	m, err := session.NewManager(sc)
	if err != nil {
		log.Fatal(err)
	}

	mux := http.NewServeMux()
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		s := session.FromContext(r.Context())
		if err := errors.Join(s.Renew(), s.SetPrincipal(r.FormValue("user"))); err != nil {
			http.Error(w, "login failed", http.StatusInternalServerError)
		}
	})
	mux.HandleFunc("POST /logout-everywhere", func(w http.ResponseWriter, r *http.Request) {
		s := session.FromContext(r.Context())
		user, err := s.Principal()
		if err == nil && user != "" {
			err = m.RevokePrincipal(r.Context(), user)
		}
		if err != nil {
			http.Error(w, "logout failed", http.StatusServiceUnavailable)
		}
	})
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		user, _ := session.FromContext(r.Context()).Principal()
		fmt.Fprintf(w, "%q", user)
	})
	h := httpmw.New(m)(mux)
	send := func(method, path string, cookies ...*http.Cookie) *httptest.ResponseRecorder {
		r := httptest.NewRequest(method, path, nil)
		for _, c := range cookies {
			r.AddCookie(c)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}

	laptop := send("POST", "/login?user=alice").Result().Cookies()[0]
	phone := send("POST", "/login?user=alice").Result().Cookies()[0]
	fmt.Println("phone:", send("GET", "/", phone).Body)
	send("POST", "/logout-everywhere", laptop)
	fmt.Println("phone after the laptop logged out everywhere:", send("GET", "/", phone).Body)
	// Output:
	// phone: "alice"
	// phone after the laptop logged out everywhere: ""
}
