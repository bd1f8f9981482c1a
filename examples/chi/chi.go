// Package chi shows sessionmesh in a chi router: httpmw.New is a chi
// middleware as it is (func(http.Handler) http.Handler), so r.Use takes it.
package chi

import (
	"fmt"
	"net/http"

	"github.com/go-chi/chi/v5"
	"github.com/sessionmesh/sessionmesh/httpmw"
	"github.com/sessionmesh/sessionmesh/session"
)

// Router is the Geddy counter on chi: every GET / counts one more for the
// session.
func Router(m *session.Manager) http.Handler {
	r := chi.NewRouter()
	r.Use(httpmw.New(m))
	r.Get("/", func(w http.ResponseWriter, r *http.Request) {
		s := session.FromContext(r.Context())
		n, _ := session.Get[int](s, "counter")
		if err := s.Set("counter", n+1); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		fmt.Fprintln(w, n+1)
	})
	return r
}
