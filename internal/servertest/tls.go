package servertest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// TLSFiles are PEM files of a throwaway CA and of a server and a client
// certificate it signed, made with crypto/x509 (no openssl needed). The
// server certificate is for 127.0.0.1 and "localhost".
type TLSFiles struct {
	CA                    string // the CA's certificate
	ServerCert, ServerKey string
	ClientCert, ClientKey string
}

// CA is a throwaway certificate authority whose certificate is written to
// File, in a temp dir of its own.
type CA struct {
	File string // the CA's certificate, PEM

	dir    string
	cert   *x509.Certificate
	key    *ecdsa.PrivateKey
	issued int
}

// NewCA makes a fresh CA (P-256, valid from an hour ago for a day).
func NewCA(t testing.TB) *CA {
	t.Helper()
	ca := &CA{dir: t.TempDir()}
	ca.cert, ca.key = newCert(t, nil, nil, &x509.Certificate{
		Subject:  pkix.Name{CommonName: "sessionmesh test CA"},
		IsCA:     true,
		KeyUsage: x509.KeyUsageCertSign,
	})
	ca.File = filepath.Join(ca.dir, "ca.pem")
	writePEM(t, ca.File, "CERTIFICATE", ca.cert.Raw)
	return ca
}

// Issue writes a certificate and key signed by ca for the common name cn,
// with uris as URI SANs (a cluster member's: cluster.MemberURI), usable as
// a server's and a client's, into new files; it returns their paths.
func (ca *CA) Issue(t testing.TB, cn string, uris ...string) (certFile, keyFile string) {
	t.Helper()
	tmpl := &x509.Certificate{
		Subject:     pkix.Name{CommonName: cn},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	for _, u := range uris {
		parsed, err := url.Parse(u)
		if err != nil {
			t.Fatalf("servertest: URI SAN %q: %v", u, err)
		}
		tmpl.URIs = append(tmpl.URIs, parsed)
	}
	ca.issued++
	return writeLeaf(t, ca.dir, fmt.Sprintf("leaf%d", ca.issued), ca.cert, ca.key, tmpl)
}

// TLSCerts writes a fresh CA, server and client certificate into a temp dir.
func TLSCerts(t testing.TB) TLSFiles {
	t.Helper()
	c := NewCA(t)
	dir, ca, caKey := c.dir, c.cert, c.key
	f := TLSFiles{CA: c.File}
	f.ServerCert, f.ServerKey = writeLeaf(t, dir, "server", ca, caKey, &x509.Certificate{
		Subject:     pkix.Name{CommonName: "localhost"},
		DNSNames:    []string{"localhost"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	})
	f.ClientCert, f.ClientKey = writeLeaf(t, dir, "client", ca, caKey, &x509.Certificate{
		Subject:     pkix.Name{CommonName: "sessionmesh test client"},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
	return f
}

// WithTLS adds a TLS port, from FreePort, that takes the certificates of
// files: clients must verify the server against files.CA, and a client
// certificate, when sent, must be signed by it. The plain port stays open
// on loopback for the readiness probe. It returns the option and the TLS
// address.
func WithTLS(t testing.TB, files TLSFiles) (RedisOption, string) {
	t.Helper()
	port := strconv.Itoa(FreePort(t))
	return WithArgs("--tls-port", port, "--tls-cert-file", files.ServerCert, "--tls-key-file", files.ServerKey,
		"--tls-ca-cert-file", files.CA, "--tls-auth-clients", "optional"), net.JoinHostPort("127.0.0.1", port)
}

func writeLeaf(t testing.TB, dir, name string, ca *x509.Certificate, caKey *ecdsa.PrivateKey, tmpl *x509.Certificate) (string, string) {
	t.Helper()
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	cert, key := newCert(t, ca, caKey, tmpl)
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatalf("servertest: %v", err)
	}
	certFile, keyFile := filepath.Join(dir, name+".pem"), filepath.Join(dir, name+"-key.pem")
	writePEM(t, certFile, "CERTIFICATE", cert.Raw)
	writePEM(t, keyFile, "EC PRIVATE KEY", keyDER)
	return certFile, keyFile
}

// newCert makes a P-256 key and a certificate from tmpl, signed by parent
// (self-signed when parent is nil), valid from an hour ago for a day.
func newCert(t testing.TB, parent *x509.Certificate, parentKey *ecdsa.PrivateKey, tmpl *x509.Certificate) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("servertest: %v", err)
	}
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		t.Fatalf("servertest: %v", err)
	}
	tmpl.SerialNumber, tmpl.BasicConstraintsValid = serial, true
	tmpl.NotBefore, tmpl.NotAfter = time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour)
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		t.Fatalf("servertest: %v", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("servertest: %v", err)
	}
	return cert, key
}

func writePEM(t testing.TB, path, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatalf("servertest: %v", err)
	}
}
