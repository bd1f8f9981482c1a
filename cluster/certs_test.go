package cluster

import (
	"context"
	"crypto/x509"
	"errors"
	"log/slog"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/sessionmesh/sessionmesh/cluster/peer"
	"github.com/sessionmesh/sessionmesh/internal/servertest"
	"github.com/sessionmesh/sessionmesh/internal/testutil"
	"github.com/sessionmesh/sessionmesh/session"
)

func certNaming(uris ...string) *x509.Certificate {
	c := &x509.Certificate{}
	for _, u := range uris {
		parsed, _ := url.Parse(u)
		c.URIs = append(c.URIs, parsed)
	}
	return c
}

// The name a node gives in its peer hello must be its member name, as its
// certificate carries it, and a boot ID.
func TestVerifyMember(t *testing.T) {
	w1 := certNaming(MemberURI("w1"))
	for _, tc := range []struct {
		node string
		cert *x509.Certificate
		ok   bool
	}{
		{"w1-0123456789ab", w1, true},
		{"w1-0123456789ab", certNaming("https://example.com/", MemberURI("w2"), MemberURI("w1")), true},
		{"web-1-0123456789ab", certNaming(MemberURI("web-1")), true},
		{"a b/c-0123456789ab", certNaming(MemberURI("a b/c")), true}, // escaped in the URI
		{"w2-0123456789ab", w1, false},
		{"w1", w1, false},               // no boot ID
		{"w1-0123", w1, false},          // not a boot ID
		{"w1-0123456789ab", nil, false}, // no certificate
		{"w1-0123456789ab", certNaming("sessionmesh://other/w1", "spiffe://node/w1"), false},
		{"w1-0123456789ab", &x509.Certificate{DNSNames: []string{"w1"}}, false},
	} {
		err := verifyMember(tc.node, tc.cert)
		if (err == nil) != tc.ok {
			t.Errorf("verifyMember(%q, %v): %v, want ok %v", tc.node, tc.cert, err, tc.ok)
		}
	}
}

// memberCerts writes a certificate of ca for member name and loads it.
func memberCerts(t testing.TB, ca *servertest.CA, name string) *Certs {
	t.Helper()
	cert, key := ca.Issue(t, name, MemberURI(name))
	c, err := LoadCerts(CertFiles{CA: ca.File, Cert: cert, Key: key})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// A peer connection whose certificate does not name the member its hello
// claims to be is refused, and the node logs why; the same connection with
// a certificate of that member is served. Both hold the cluster secret, so
// only the certificate decides.
func TestPeerNameBoundToCertificate(t *testing.T) {
	ca := servertest.NewCA(t)
	secret := []byte("0123456789abcdef0123456789abcdef")
	var logs testutil.Buffer
	cfg := DefaultLocalConfig()
	cfg.Name, cfg.Secret, cfg.Certs = "w0", secret, memberCerts(t, ca, "w0")
	cfg.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	call := func(name string, certs *Certs) error {
		c, err := peer.NewClient(peer.Config{
			Name: name, Secrets: deriveKeys([][]byte{secret}, "peer"), TLS: certs.Config(),
			VerifyName: verifyMember, Logger: discardLogger(),
		})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		req := seenReq{name: name}
		_, err = c.Call(ctx, s.Addr(), opSeen, req.marshal())
		return err
	}
	if err := call("w2-0123456789ab", memberCerts(t, ca, "w1")); !errors.Is(err, peer.ErrUnavailable) {
		t.Fatalf("a peer claiming w2 with w1's certificate: %v, want refused (ErrUnavailable)", err)
	}
	testutil.Eventually(t, 5*time.Second, "the node logs why it refused the peer", func() bool {
		return strings.Contains(logs.String(), `names member(s) [\"w1\"], not \"w2\"`)
	})
	if err := call("w2-0123456789ab", memberCerts(t, servertest.NewCA(t), "w2")); !errors.Is(err, peer.ErrUnavailable) {
		t.Fatalf("a peer with a certificate of another CA: %v, want refused", err)
	}
	if err := call("w2-0123456789ab", memberCerts(t, ca, "w2")); err != nil {
		t.Fatalf("a peer with its own certificate: %v", err)
	}
}

// A node's own certificate must name its member, at New and at every
// ReloadCerts; a reload that fails changes nothing.
func TestOwnCertificateNamesTheNode(t *testing.T) {
	ca := servertest.NewCA(t)
	cfg := DefaultLocalConfig()
	cfg.Name, cfg.Secret, cfg.Certs = "w0", []byte("0123456789abcdef0123456789abcdef"), memberCerts(t, ca, "w1")
	err := cfg.Validate()
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Field != "Certs" || !strings.Contains(fe.Rule, `not this node's Name "w0"`) {
		t.Fatalf("Validate with w1's certificate on node w0: %v", err)
	}
	if !errors.Is(err, session.ErrInvalidConfig) {
		t.Fatalf("%v does not wrap ErrInvalidConfig", err)
	}
	cfg.TLS = memberCerts(t, ca, "w0").Config()
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "TLS is set together with Certs") {
		t.Fatalf("Validate with TLS and Certs: %v", err)
	}
}
