package httpmw_test

import (
	"errors"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"

	"github.com/sessionmesh/sessionmesh/httpmw"
	"github.com/sessionmesh/sessionmesh/session"
	"github.com/sessionmesh/sessionmesh/stores"
	"github.com/sessionmesh/sessionmesh/stores/memory"
)

// The Geddy counter, with the store chosen by config and environment, and
// a login and logout protected from CSRF: the README's usage example.
func ExampleNew() {
	cfg, err := stores.Load("config.yaml") // or stores.DefaultConfig(): memory store
	if err != nil {
		log.Fatal(err)
	}
	if err := cfg.ApplyEnv(os.LookupEnv); err != nil { // SESSIONS_* overrides
		log.Fatal(err)
	}
	st, err := stores.Open(cfg) // validates: errors name the field
	if err != nil {
		log.Fatal(err)
	}
	defer stores.Close(st)
	m, err := session.NewManager(cfg.Session(st))
	if err != nil {
		log.Fatal(err)
	}

	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		s := session.FromContext(r.Context())
		n, _ := session.Get[int](s, "counter")
		s.Set("counter", n+1)
		fmt.Fprintf(w, "%d\n", n+1)
	})
	mux.HandleFunc("POST /login", login)   // s.Renew(), then s.Set("user", ...); a GET gets 405
	mux.HandleFunc("POST /logout", logout) // s.Destroy()
	// Refuse cross-origin POSTs (login and logout CSRF) with 403 before the
	// middleware reads the session.
	csrf := http.NewCrossOriginProtection()
	log.Fatal(http.ListenAndServe(":8080", csrf.Handler(httpmw.New(m)(mux))))
}

// login checks the user (here: any name) and renews the session ID, the
// defence against session fixation.
func login(w http.ResponseWriter, r *http.Request) {
	s := session.FromContext(r.Context())
	if err := errors.Join(s.Renew(), s.Set("user", r.PostFormValue("user"))); err != nil {
		http.Error(w, "login failed", http.StatusInternalServerError)
		return
	}
	fmt.Fprintln(w, "logged in")
}

func logout(w http.ResponseWriter, r *http.Request) {
	if err := session.FromContext(r.Context()).Destroy(); err != nil {
		http.Error(w, "logout failed", http.StatusInternalServerError)
		return
	}
	fmt.Fprintln(w, "logged out")
}

// http.CrossOriginProtection (Go 1.25) around the middleware refuses a
// cross-origin POST from a browser, judged by Sec-Fetch-Site or else Origin
// against Host, with 403 before the session is read; same-origin
// browser requests and clients that send neither header (curl, other
// servers) pass. Safe methods (GET, HEAD, OPTIONS) always pass, so the
// handlers that change a session are POST only.
func Example_crossOriginProtection() {
	st, err := memory.New(memory.DefaultConfig())
	if err != nil {
		log.Fatal(err)
	}
	defer st.Close()
	m, err := session.NewManager(session.DefaultConfig(st))
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /login", login)
	mux.HandleFunc("POST /logout", logout)
	h := http.NewCrossOriginProtection().Handler(httpmw.New(m)(mux))

	send := func(method, header string) {
		r := httptest.NewRequest(method, "http://localhost:8080/login", strings.NewReader("user=alice"))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if name, value, ok := strings.Cut(header, ": "); ok {
			r.Header.Set(name, value)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		fmt.Printf("%-4s %-41s %d, session cookie set: %v\n", method, header, w.Code, w.Header().Get("Set-Cookie") != "")
	}
	send("POST", "Sec-Fetch-Site: same-origin")
	send("POST", "Sec-Fetch-Site: cross-site")
	send("POST", "Origin: https://evil.example")
	send("POST", "Origin: http://localhost:8080")
	send("POST", "") // curl
	send("GET", "")
	// Output:
	// POST Sec-Fetch-Site: same-origin               200, session cookie set: true
	// POST Sec-Fetch-Site: cross-site                403, session cookie set: false
	// POST Origin: https://evil.example              403, session cookie set: false
	// POST Origin: http://localhost:8080             200, session cookie set: true
	// POST                                           200, session cookie set: true
	// GET                                            405, session cookie set: false
}
