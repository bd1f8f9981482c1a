package httpmw_test

// TEMPORARY until stores/memory lands.

import (
	"context"
	"sync"
	"testing"

	"github.com/sessionmesh/sessionmesh/session"
)

type mapStore struct {
	mu   sync.Mutex
	recs map[string]session.Record
}

func newStore(t *testing.T) session.Store { return &mapStore{recs: map[string]session.Record{}} }

func (s *mapStore) Load(_ context.Context, token string) (session.Record, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.recs[token]
	return r.Clone(), ok, nil
}

func (s *mapStore) Save(_ context.Context, token string, p session.Patch) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var r session.Record
	if token != "" {
		var ok bool
		if r, ok = s.recs[token]; !ok {
			return "", session.ErrNotFound
		}
		r = r.Clone()
		delete(s.recs, token)
	}
	p.Apply(&r)
	s.recs[r.ID] = r
	return r.ID, nil
}

func (s *mapStore) Delete(_ context.Context, token string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.recs, token)
	return nil
}
