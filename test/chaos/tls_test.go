package chaos

import (
	"crypto/tls"
	"fmt"
	"sync"
	"testing"

	"github.com/sessionmesh/sessionmesh/cluster"
	"github.com/sessionmesh/sessionmesh/internal/servertest"
	"github.com/sessionmesh/sessionmesh/test/worker"
)

// TestKillTLS is TestKill on workers whose peer traffic is mutual TLS,
// configured as an operator would: a CA of their own, a certificate per
// worker naming it (cluster.MemberURI), the files given by
// SESSIONS_CLUSTER_NAME and SESSIONS_CLUSTER_TLS_*. The same zero-loss
// assertions hold.
func TestKillTLS(t *testing.T) {
	pki := newWorkerPKI(t)
	r, l := startLoaded(t, patient, pki.env)
	for _, w := range r.pool.Workers() {
		if v := pki.dialPeer(t, w); v != tls.VersionTLS13 {
			t.Fatalf("%s's peer port speaks TLS version %x, want 1.3", w.Name(), v)
		}
	}
	killTwo(t, r, l)
}

// workerPKI is a throwaway CA and the certificate files of each worker,
// issued on first use: a restarted worker keeps its member name.
type workerPKI struct {
	t  *testing.T
	ca *servertest.CA

	mu    sync.Mutex // guards files
	files map[string]cluster.CertFiles
}

func newWorkerPKI(t *testing.T) *workerPKI {
	return &workerPKI{t: t, ca: servertest.NewCA(t), files: map[string]cluster.CertFiles{}}
}

// filesOf returns the files of the worker named name.
func (p *workerPKI) filesOf(name string) cluster.CertFiles {
	p.mu.Lock()
	defer p.mu.Unlock()
	f, ok := p.files[name]
	if !ok {
		f.CA = p.ca.File
		f.Cert, f.Key = p.ca.Issue(p.t, name, cluster.MemberURI(name))
		p.files[name] = f
	}
	return f
}

// env is a worker's TLS environment: its member name, the CA and its
// certificate.
func (p *workerPKI) env(s worker.Spec) []string {
	f := p.filesOf(s.Name)
	return []string{
		"SESSIONS_CLUSTER_NAME=" + s.Name,
		"SESSIONS_CLUSTER_TLS_CA=" + f.CA,
		"SESSIONS_CLUSTER_TLS_CERT=" + f.Cert,
		"SESSIONS_CLUSTER_TLS_KEY=" + f.Key,
	}
}

// dialPeer completes a TLS handshake with w's peer port, as another
// member would, and returns the version it negotiated.
func (p *workerPKI) dialPeer(t *testing.T, w *worker.Worker) uint16 {
	t.Helper()
	certs, err := cluster.LoadCerts(p.filesOf(fmt.Sprintf("%s-probe", w.Name())))
	if err != nil {
		t.Fatal(err)
	}
	conn, err := tls.Dial("tcp", w.Spec().PeerAddr, certs.Config())
	if err != nil {
		t.Fatalf("TLS to %s's peer port: %v", w.Name(), err)
	}
	defer conn.Close()
	return conn.ConnectionState().Version
}
