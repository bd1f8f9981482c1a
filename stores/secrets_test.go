package stores_test

import (
	"bytes"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sessionmesh/sessionmesh/session"
	"github.com/sessionmesh/sessionmesh/stores"
)

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// The cluster's secrets come from secret (one), secrets (a list) or
// secretFile (one a line, re-read on every call), the first the one the
// worker sends with.
func TestClusterSecretList(t *testing.T) {
	old, next := "the old cluster secret, 32 bytes", "the new cluster secret, 32 bytes"
	file := filepath.Join(t.TempDir(), "secrets")
	write := func(text string) {
		if err := os.WriteFile(file, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("# the first encrypts\n" + b64(next) + "\n\n  " + b64(old) + "  \n")
	for name, tc := range map[string]struct {
		cfg  stores.ClusterConfig
		want []string
	}{
		"secret":     {stores.ClusterConfig{Secret: b64(old)}, []string{old}},
		"secrets":    {stores.ClusterConfig{Secrets: []string{b64(next), b64(old)}}, []string{next, old}},
		"secretFile": {stores.ClusterConfig{SecretFile: file}, []string{next, old}},
		"none":       {stores.ClusterConfig{}, nil},
	} {
		got, err := tc.cfg.SecretList()
		if err != nil || len(got) != len(tc.want) {
			t.Fatalf("%s: SecretList() = %d secrets, %v; want %d", name, len(got), err, len(tc.want))
		}
		for i := range got {
			if !bytes.Equal(got[i], []byte(tc.want[i])) {
				t.Errorf("%s: secret %d is not the configured one", name, i)
			}
		}
	}
	write(b64(next) + "\n")
	if got, err := (&stores.ClusterConfig{SecretFile: file}).SecretList(); err != nil || len(got) != 1 {
		t.Fatalf("after the file changed: %d secrets, %v; want 1", len(got), err)
	}
}

// Every problem of the cluster's secrets is refused at start-up, naming the
// field and the entry as the config spells them, and never the secret.
func TestClusterSecretsValidate(t *testing.T) {
	good, short := b64("a good cluster secret, 32 bytes."), b64("too short")
	empty := filepath.Join(t.TempDir(), "empty")
	if err := os.WriteFile(empty, []byte("# nothing yet\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		cfg  stores.ClusterConfig
		want []string
	}{
		"short entry":        {stores.ClusterConfig{Secrets: []string{good, short}}, []string{"sessions.cluster.secrets[1]", "at least 16"}},
		"every problem":      {stores.ClusterConfig{Secrets: []string{short, good, good}, Replicas: 9}, []string{"sessions.cluster.secrets[0]", "sessions.cluster.secrets[2] is the same secret as entry 1", "sessions.cluster.replicas"}},
		"not base64":         {stores.ClusterConfig{Secrets: []string{good, "no base64!"}}, []string{"sessions.cluster.secrets[1]", "base64"}},
		"secret and secrets": {stores.ClusterConfig{Secret: good, Secrets: []string{good}}, []string{"sessions.cluster.secrets", "only one"}},
		"missing file":       {stores.ClusterConfig{SecretFile: "/nonexistent/secrets"}, []string{"sessions.cluster.secretFile", "cannot be read"}},
		"empty file":         {stores.ClusterConfig{SecretFile: empty}, []string{"sessions.cluster.secretFile", "holds no secret"}},
	} {
		c := stores.DefaultConfig()
		cl := tc.cfg
		cl.Bind = "127.0.0.1:0"
		c.Cluster = &cl
		err := c.Validate()
		if !errors.Is(err, session.ErrInvalidConfig) {
			t.Errorf("%s: Validate() = %v; want ErrInvalidConfig", name, err)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: Validate() = %q; want it to mention %q", name, err, w)
			}
		}
		if strings.Contains(err.Error(), good) || strings.Contains(err.Error(), "good cluster secret") {
			t.Errorf("%s: the error shows a secret: %v", name, err)
		}
	}
}

// A printed cluster block masks every secret of the list; the file's name
// is no secret and shows.
func TestPrintedClusterConfigHidesTheSecretList(t *testing.T) {
	c := stores.ClusterConfig{Secrets: []string{"clustersecretHHHH", "clustersecretIIII"}, SecretFile: "/run/secrets/cluster"}
	for _, out := range []string{c.String(), c.GoString(), c.LogValue().String()} {
		if strings.Contains(out, "clustersecret") || !strings.Contains(out, "/run/secrets/cluster") {
			t.Errorf("printed: %s", out)
		}
	}
}
