package gorillastore

import (
	"context"
	"net/http"
	"sync"

	"github.com/gorilla/sessions"
)

// loaded is what New read for one session, kept until Save.
type loaded struct {
	token  string            // the store's token; "" until the session is stored
	values map[string][]byte // the encoded values Values holds, to diff against
	err    error             // the store's failure when New loaded it
}

// requestState holds the loaded state of every session a Store loaded for
// one request. It lives in the request's context, as gorilla's Registry
// does, so it ends with the request.
type requestState struct {
	mu       sync.Mutex
	sessions map[*sessions.Session]*loaded
}

type stateKey struct{}

// remember keeps l as what was loaded for s in r, adding the request's
// state to r's context (in place, as sessions.GetRegistry does) on its
// first session.
func remember(r *http.Request, s *sessions.Session, l *loaded) {
	rs, _ := r.Context().Value(stateKey{}).(*requestState)
	if rs == nil {
		rs = &requestState{sessions: make(map[*sessions.Session]*loaded)}
		*r = *r.WithContext(context.WithValue(r.Context(), stateKey{}, rs))
	}
	rs.mu.Lock()
	defer rs.mu.Unlock()
	rs.sessions[s] = l
}

// recall returns what was loaded for s in r, or nil.
func recall(r *http.Request, s *sessions.Session) *loaded {
	rs, _ := r.Context().Value(stateKey{}).(*requestState)
	if rs == nil {
		return nil
	}
	rs.mu.Lock()
	defer rs.mu.Unlock()
	return rs.sessions[s]
}
