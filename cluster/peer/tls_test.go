package peer_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"net"
	"testing"
	"time"

	"github.com/sessionmesh/sessionmesh/cluster/peer"
	"github.com/sessionmesh/sessionmesh/internal/testutil"
)

// testTLS returns a server config with a self-signed certificate for
// 127.0.0.1 and a client config that trusts it.
func testTLS(t testing.TB) (server, client *tls.Config) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "peer test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:                  true,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	server = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}
	return server, &tls.Config{RootCAs: pool}
}

func TestTLSMismatch(t *testing.T) {
	tlsServer, tlsClient := testTLS(t)
	s, _ := startServer(t, peer.Config{TLS: tlsServer, HandshakeTimeout: 500 * time.Millisecond, Logger: logTo(&testutil.Buffer{})}, echo)
	plain := newClient(t, peer.Config{HandshakeTimeout: 500 * time.Millisecond})
	if _, err := plain.Call(ctxTimeout(t, 5*time.Second), s.Addr().String(), 1, nil); !errors.Is(err, peer.ErrUnavailable) {
		t.Fatalf("plain client to a TLS server: got %v, want ErrUnavailable", err)
	}
	untrusting := newClient(t, peer.Config{TLS: &tls.Config{}})
	if _, err := untrusting.Call(ctxTimeout(t, 5*time.Second), s.Addr().String(), 1, nil); !errors.Is(err, peer.ErrUnavailable) {
		t.Fatalf("client that does not trust the certificate: got %v, want ErrUnavailable", err)
	}
	good := newClient(t, peer.Config{TLS: tlsClient})
	if _, err := good.Call(context.Background(), s.Addr().String(), 1, nil); err != nil {
		t.Fatalf("TLS client: %v", err)
	}
}
