package redis

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sessionmesh/sessionmesh/internal/servertest"
	"github.com/sessionmesh/sessionmesh/session"
	"github.com/sessionmesh/sessionmesh/stores/internal/storetesting"
	"github.com/sessionmesh/sessionmesh/stores/storetest"
)

func TestRequirePass(t *testing.T) {
	srv := servertest.Redis(t, servertest.WithPassword("s3cret"))
	s := open(t, Config{Addrs: []string{srv.Addr()}, Password: "s3cret"})
	id := storetesting.Create(t, s, storetesting.Patch(time.Now(), "a", "1"))
	storetesting.Load(t, s, id)

	wantNewError(t, Config{Addrs: []string{srv.Addr()}}, srv.Addr(), "NOAUTH")
	wantNewError(t, Config{Addrs: []string{srv.Addr()}, Password: "wrong"}, srv.Addr(), "WRONGPASS")
}

// TestACLUser runs the whole suite as an ACL user.
func TestACLUser(t *testing.T) {
	srv := servertest.Redis(t, servertest.WithACLUser("sessions", "pw"))
	storetest.Run(t, func(t *testing.T, now func() time.Time) session.Store {
		return open(t, Config{Addrs: []string{srv.Addr()}, Username: "sessions", Password: "pw", Now: now})
	})
	wantNewError(t, Config{Addrs: []string{srv.Addr()}, Username: "sessions", Password: "nope"}, srv.Addr(), "WRONGPASS")
}

// wantNewError asserts that New fails with an error naming addr and
// holding the server's complaint.
func wantNewError(t *testing.T, cfg Config, addr, complaint string) {
	t.Helper()
	s, err := New(cfg)
	if err == nil {
		s.Close()
		t.Fatalf("New(%+v) succeeded; want an error", cfg)
	}
	if msg := err.Error(); !strings.Contains(msg, addr) || !strings.Contains(msg, complaint) {
		t.Fatalf("New: %v; want an error naming %s and saying %s", err, addr, complaint)
	}
}

// TestTLS: with Config.TLS the store talks TLS to a redis-server that only
// offers TLS on that port, and verifies its certificate.
func TestTLS(t *testing.T) {
	dir := t.TempDir()
	caPool, certFile, keyFile := writeCert(t, dir)
	tlsPort := servertest.FreePort(t)
	servertest.Redis(t, servertest.WithArgs("--tls-port", strconv.Itoa(tlsPort),
		"--tls-cert-file", certFile, "--tls-key-file", keyFile, "--tls-auth-clients", "no"))
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(tlsPort))

	s := open(t, Config{Addrs: []string{addr}, TLS: &tls.Config{RootCAs: caPool, MinVersion: tls.VersionTLS12}})
	id := storetesting.Create(t, s, storetesting.Patch(time.Now(), "a", `"over tls"`))
	if got := string(storetesting.Load(t, s, id).Values["a"]); got != `"over tls"` {
		t.Fatalf("a = %s over TLS", got)
	}

	// A generous dial timeout: the handshake's certificate error is the
	// answer, and a loaded machine must not turn it into a timeout.
	untrusted := Config{Addrs: []string{addr}, TLS: &tls.Config{MinVersion: tls.VersionTLS12}, DialTimeout: 30 * time.Second, Timeout: 30 * time.Second}
	wantNewError(t, untrusted, addr, "certificate")
	plain := Config{Addrs: []string{addr}, DialTimeout: time.Second, Timeout: 500 * time.Millisecond}
	if s, err := New(plain); err == nil {
		s.Close()
		t.Fatal("New without TLS to a TLS-only port succeeded")
	}
}

// writeCert writes a self-signed certificate for 127.0.0.1 and its key into
// dir and returns a pool that trusts it.
func writeCert(t *testing.T, dir string) (*x509.CertPool, string, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "sessionmesh test"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	writePEM(t, certFile, "CERTIFICATE", der)
	writePEM(t, keyFile, "EC PRIVATE KEY", keyDER)
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return pool, certFile, keyFile
}

func writePEM(t *testing.T, path, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestClosed: after Close every call fails with session.ErrClosed and
// Close stays idempotent.
func TestClosed(t *testing.T) {
	srv := servertest.Redis(t)
	s := open(t, Config{Addrs: []string{srv.Addr()}})
	storetesting.WantClosed(t, s, storetesting.Create(t, s, storetesting.Patch(time.Now(), "a", "1")))
}
