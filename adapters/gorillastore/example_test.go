package gorillastore_test

import (
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"

	"github.com/sessionmesh/sessionmesh/adapters/gorillastore"
	"github.com/sessionmesh/sessionmesh/stores/memory"
)

// The Geddy counter written against gorilla/sessions, with a sessionmesh
// store underneath (any session.Store: stores.Open picks one from config).
func ExampleNew() {
	st, err := memory.New(memory.DefaultConfig())
	if err != nil {
		log.Fatal(err)
	}
	defer st.Close()
	store := gorillastore.New(st)

	counter := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, err := store.Get(r, "sid")
		if err != nil {
			http.Error(w, "session unavailable", http.StatusServiceUnavailable)
			return
		}
		n, _ := s.Values["counter"].(int)
		s.Values["counter"] = n + 1
		if err := s.Save(r, w); err != nil {
			http.Error(w, "session not saved", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, n+1)
	})

	var cookie *http.Cookie
	for range 2 {
		r := httptest.NewRequest("GET", "http://localhost/", nil)
		if cookie != nil {
			r.AddCookie(cookie)
		}
		w := httptest.NewRecorder()
		counter.ServeHTTP(w, r)
		cookie = w.Result().Cookies()[0]
		fmt.Print(w.Body.String())
	}
	// Output:
	// 1
	// 2
}
