package storeerr

import (
	"errors"
	"testing"

	"github.com/sessionmesh/sessionmesh/session"
)

func TestTokenOr(t *testing.T) {
	if tok, err := TokenOr("t", nil); tok != "t" || err != nil {
		t.Errorf("TokenOr(t, nil) = %q, %v", tok, err)
	}
	boom := errors.New("boom")
	if tok, err := TokenOr("t", boom); tok != "" || err != boom {
		t.Errorf("TokenOr(t, boom) = %q, %v; want no token", tok, err)
	}
}

func TestNamedAndShort(t *testing.T) {
	for _, tt := range []struct{ token, newID, want string }{
		{"abcdefghijklmnop", "", "abcdefgh…"},
		{"", "new-id-0123456789", "new-id-0…"},
		{"abc", "zzz", "abc"},
		{"", "", ""},
	} {
		if got := Short(Named(tt.token, session.Patch{NewID: tt.newID})); got != tt.want {
			t.Errorf("Short(Named(%q, NewID %q)) = %q, want %q", tt.token, tt.newID, got, tt.want)
		}
	}
}
