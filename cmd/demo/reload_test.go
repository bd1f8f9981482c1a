package main

import (
	"encoding/base64"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sessionmesh/sessionmesh/internal/testutil"
	"github.com/sessionmesh/sessionmesh/session"
	"github.com/sessionmesh/sessionmesh/stores"
)

// keyedStore records the secrets SetSecrets is given.
type keyedStore struct {
	session.Store
	got [][]byte
}

func (k *keyedStore) SetSecrets(secrets [][]byte) error {
	k.got = secrets
	return nil
}

// SIGHUP's work: the secret file is read again and its list given to the
// store; a file that does not hold a valid list changes nothing and is
// logged, without the secrets; without a secret file there is nothing to
// reload, and the log says so.
func TestReloadSecrets(t *testing.T) {
	file := filepath.Join(t.TempDir(), "secrets")
	write := func(text string) {
		if err := os.WriteFile(file, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	newer, older := "the new cluster secret, 32 bytes", "the old cluster secret, 32 bytes"
	write(base64.StdEncoding.EncodeToString([]byte(newer)) + "\n" + base64.StdEncoding.EncodeToString([]byte(older)) + "\n")
	cfg := stores.DefaultConfig()
	cfg.Cluster = &stores.ClusterConfig{SecretFile: file}
	var logs testutil.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	st := &keyedStore{}

	reloadSecrets(cfg, st, log)
	if len(st.got) != 2 || string(st.got[0]) != newer || string(st.got[1]) != older {
		t.Fatalf("the store got %d secrets; want the file's two, in order", len(st.got))
	}
	write("not base64!\n")
	reloadSecrets(cfg, st, log)
	if len(st.got) != 2 || !strings.Contains(logs.String(), "cluster secrets not changed") || !strings.Contains(logs.String(), "secretFile[0]") {
		t.Fatalf("a bad file: the store has %d secrets, log:\n%s", len(st.got), logs.String())
	}
	reloadSecrets(stores.DefaultConfig(), st, log)
	if !strings.Contains(logs.String(), "nothing to reload") {
		t.Fatalf("without a secret file:\n%s", logs.String())
	}
	if strings.Contains(logs.String(), "cluster secret, 32") {
		t.Fatalf("a secret is in the log:\n%s", logs.String())
	}
}
