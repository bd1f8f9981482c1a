package session_test

import (
	"strings"
	"testing"

	"github.com/sessionmesh/sessionmesh/session"
)

func TestNewIDIsValidAndUnique(t *testing.T) {
	seen := make(map[string]bool)
	for range 1000 {
		id := session.NewID()
		if len(id) != session.IDLen || !session.ValidID(id) {
			t.Fatalf("NewID() = %q: not a valid %d-character ID", id, session.IDLen)
		}
		if seen[id] {
			t.Fatalf("NewID() repeated %q", id)
		}
		seen[id] = true
	}
}

func TestValidID(t *testing.T) {
	good := session.NewID()
	for name, id := range map[string]string{
		"empty":         "",
		"short":         good[:session.IDLen-1],
		"long":          good + "A",
		"padded":        good[:session.IDLen-1] + "=",
		"std alphabet":  "+" + good[1:],
		"slash":         good[:10] + "/" + good[11:],
		"space":         " " + good[1:],
		"non-canonical": good[:session.IDLen-1] + "B", // 'B' = 1: a padding bit set
		"10 KB":         strings.Repeat("A", 10240),
		"unicode":       "é" + good[2:],
	} {
		if session.ValidID(id) {
			t.Errorf("ValidID(%s) = true, want false", name)
		}
	}
	for _, last := range "AEIMQUYcgkosw048" {
		if id := good[:session.IDLen-1] + string(last); !session.ValidID(id) {
			t.Errorf("ValidID with canonical last char %q = false", last)
		}
	}
}
