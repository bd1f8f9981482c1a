package main

import (
	"encoding/base64"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sessionmesh/sessionmesh/cluster"
	"github.com/sessionmesh/sessionmesh/internal/servertest"
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
	reload(stores.DefaultConfig(), st, log)
	if !strings.Contains(logs.String(), "nothing to reload") {
		t.Fatalf("without a secret file:\n%s", logs.String())
	}
	if strings.Contains(logs.String(), "cluster secret, 32") {
		t.Fatalf("a secret is in the log:\n%s", logs.String())
	}
}

// SIGHUP's work with cluster.tls: the store reads its certificate files
// again (a real node, whose reload of another worker's certificate fails,
// is logged, and changes nothing); the secret file, when there is one, is
// read too.
func TestReloadCerts(t *testing.T) {
	ca := servertest.NewCA(t)
	dir := t.TempDir()
	tlsFiles := stores.ClusterTLS{CA: ca.File, Cert: filepath.Join(dir, "cert.pem"), Key: filepath.Join(dir, "key.pem")}
	issue := func(name string) {
		cert, key := ca.Issue(t, name, cluster.MemberURI(name))
		for from, to := range map[string]string{cert: tlsFiles.Cert, key: tlsFiles.Key} {
			b, err := os.ReadFile(from)
			if err == nil {
				err = os.WriteFile(to, b, 0o600)
			}
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	issue("w1")
	cfg := stores.DefaultConfig()
	cfg.Cluster = &stores.ClusterConfig{Name: "w1", Bind: "127.0.0.1:0", Secret: base64.StdEncoding.EncodeToString([]byte("a cluster secret of 32 bytes....")), TLS: tlsFiles}
	var logs testutil.Buffer
	cfg.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	st, err := stores.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer stores.Close(st)

	issue("w1")
	reload(cfg, st, cfg.Logger)
	if !strings.Contains(logs.String(), "cluster: certificates reloaded") {
		t.Fatalf("a renewed certificate was not reloaded:\n%s", logs.String())
	}
	issue("w2")
	reload(cfg, st, cfg.Logger)
	if !strings.Contains(logs.String(), "cluster certificates not changed") || !strings.Contains(logs.String(), `not this node's Name \"w1\"`) {
		t.Fatalf("another worker's certificate:\n%s", logs.String())
	}
}
