package cluster_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sessionmesh/sessionmesh/cluster"
	"github.com/sessionmesh/sessionmesh/cluster/clustertest"
	"github.com/sessionmesh/sessionmesh/internal/servertest"
)

// nodeFiles are the certificate files of one node at fixed paths, which a
// rotation overwrites as an operator (or cert-manager) would.
type nodeFiles struct {
	name  string
	files cluster.CertFiles
}

func newNodeFiles(t *testing.T, name string, ca *servertest.CA) nodeFiles {
	dir := t.TempDir()
	n := nodeFiles{name: name, files: cluster.CertFiles{
		CA: filepath.Join(dir, "ca.pem"), Cert: filepath.Join(dir, "cert.pem"), Key: filepath.Join(dir, "key.pem"),
	}}
	n.trust(t, ca)
	n.issue(t, ca)
	return n
}

// trust writes the node's CA file: the certificates of cas, concatenated.
func (n nodeFiles) trust(t *testing.T, cas ...*servertest.CA) {
	var pem []byte
	for _, ca := range cas {
		pem = append(pem, readFile(t, ca.File)...)
	}
	writeFile(t, n.files.CA, pem)
}

// issue writes a fresh certificate of ca for the node's member.
func (n nodeFiles) issue(t *testing.T, ca *servertest.CA) {
	cert, key := ca.Issue(t, n.name, cluster.MemberURI(n.name))
	writeFile(t, n.files.Cert, readFile(t, cert))
	writeFile(t, n.files.Key, readFile(t, key))
}

func readFile(t *testing.T, path string) []byte {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func writeFile(t *testing.T, path string, b []byte) {
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// withCerts gives node i the certificates of files[i].
func withCerts(t *testing.T, files []nodeFiles) clustertest.Option {
	return clustertest.WithConfig(func(i int, c *cluster.Config) {
		certs, err := cluster.LoadCerts(files[i].files)
		if err != nil {
			t.Fatalf("node %d: %v", i, err)
		}
		c.Certs = certs
	})
}

// A cluster over mutual TLS moves its whole PKI to a new CA while it
// serves, in the three steps of the README (trust both CAs, switch the
// certificates, drop the old CA), each applied by ReloadCerts, node by
// node. Sessions are written and read across nodes after every step, over
// connections made before it; then a node that knows only the new CA
// joins, which takes new connections both ways: the old nodes present
// their new certificates and verify its against the new CA.
func TestReloadCertsRotatesTheCA(t *testing.T) {
	scenario(t)
	oldCA, newCA := servertest.NewCA(t), servertest.NewCA(t)
	var files []nodeFiles
	for i := range 4 {
		files = append(files, newNodeFiles(t, fmt.Sprintf("node%d", i), oldCA))
	}
	files[3].trust(t, newCA)
	files[3].issue(t, newCA)
	c := clustertest.New(t, 3, withCerts(t, files))
	c.WaitConverged(converge)
	ids := map[string]int{}
	roundTrip := func(step string) {
		t.Helper()
		for i := range 3 {
			id := create(t, c.Store(i), map[string]any{"n": len(ids)})
			ids[id] = len(ids)
		}
		for id, want := range ids {
			for i := range 3 {
				if n, ok := value(t, c.Store(i), id, "n"); !ok || n != want {
					t.Fatalf("%s: node %d reads session %d as %d, %v", step, i, want, n, ok)
				}
			}
		}
	}
	roundTrip("before")
	steps := []struct {
		name   string
		change func(n nodeFiles)
	}{
		{"trust both CAs", func(n nodeFiles) { n.trust(t, oldCA, newCA) }},
		{"certificates of the new CA", func(n nodeFiles) { n.issue(t, newCA) }},
		{"drop the old CA", func(n nodeFiles) { n.trust(t, newCA) }},
	}
	for _, step := range steps {
		for i := range 3 {
			step.change(files[i])
			if err := c.Store(i).ReloadCerts(); err != nil {
				t.Fatalf("%s: node %d: %v", step.name, i, err)
			}
		}
		roundTrip(step.name)
	}

	// A reload that would give a node another member's certificate fails
	// and changes nothing.
	writeFile(t, files[0].files.Cert, readFile(t, files[1].files.Cert))
	writeFile(t, files[0].files.Key, readFile(t, files[1].files.Key))
	if err := c.Store(0).ReloadCerts(); err == nil || !strings.Contains(err.Error(), `not this node's Name "node0"`) {
		t.Fatalf("reload of node1's certificate on node0: %v", err)
	}

	c.Add()
	c.WaitConverged(converge)
	c.WaitReplicated(converge)
	for id, want := range ids {
		if n, ok := value(t, c.Store(3), id, "n"); !ok || n != want {
			t.Fatalf("the new node reads session %d as %d, %v", want, n, ok)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), converge)
	defer cancel()
	if err := c.Drain(ctx, 0); err != nil {
		t.Fatalf("node0 hands its sessions over new connections: %v", err)
	}
}
