package storetesting

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/sessionmesh/sessionmesh/session"
)

// WantBadPatchesRefused asserts that s refuses the patches no Manager makes
// (no time, no idle timeout, a create without a valid new ID, a value over
// the size limit) with no token and an error that names the problem. A
// store that does this before any I/O passes with no server at all.
func WantBadPatchesRefused(t *testing.T, s session.Store) {
	t.Helper()
	now := time.Now()
	id := session.NewID()
	cases := map[string]struct {
		token string
		p     session.Patch
		want  string
	}{
		"zero time":  {id, session.Patch{Idle: time.Minute}, "Patch.Now"},
		"no idle":    {id, session.Patch{Now: now}, "Patch.Idle"},
		"no new ID":  {"", session.Patch{Now: now, Idle: time.Minute}, "NewID"},
		"bad new ID": {id, session.Patch{Now: now, Idle: time.Minute, NewID: "short"}, "NewID"},
		"huge value": {id, session.Patch{Now: now, Idle: time.Minute, Set: map[string][]byte{"k": make([]byte, 1<<20)}}, "limit"},
	}
	for name, c := range cases {
		tok, err := s.Save(t.Context(), c.token, c.p)
		if err == nil || tok != "" || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: Save = %q, %v; want no token and an error about %s", name, tok, err, c.want)
		}
	}
}

// WantClosed closes s, which holds session id, and asserts that Close stays
// idempotent and that every call after it fails with session.ErrClosed.
func WantClosed(t testing.TB, s interface {
	session.Store
	io.Closer
}, id string) {
	t.Helper()
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	ctx := context.Background()
	if _, _, err := s.Load(ctx, id); !errors.Is(err, session.ErrClosed) {
		t.Errorf("Load after Close: %v; want ErrClosed", err)
	}
	if _, err := s.Save(ctx, id, Patch(time.Now(), "b", "2")); !errors.Is(err, session.ErrClosed) {
		t.Errorf("Save after Close: %v; want ErrClosed", err)
	}
	if err := s.Delete(ctx, id); !errors.Is(err, session.ErrClosed) {
		t.Errorf("Delete after Close: %v; want ErrClosed", err)
	}
}
