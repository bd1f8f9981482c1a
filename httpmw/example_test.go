package httpmw_test

import (
	"fmt"
	"log"
	"net/http"
	"os"

	"github.com/sessionmesh/sessionmesh/httpmw"
	"github.com/sessionmesh/sessionmesh/session"
	"github.com/sessionmesh/sessionmesh/stores"
)

// The Geddy counter, with the store chosen by config and environment: the
// README's usage example.
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
	log.Fatal(http.ListenAndServe(":8080", httpmw.New(m)(mux)))
}
