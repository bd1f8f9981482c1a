package cluster

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"time"
)

// Certs is a node's TLS identity for peer connections, read from PEM files:
// the CAs that sign the members' certificates, and this node's certificate
// and key. Reload reads the files again while the node serves; connections
// made before keep working, new ones use what was read last.
//
// The TLS it gives (Config) is mutual and at least TLS 1.3 (whose suites
// all have forward secrecy): each side presents its certificate, and checks
// that the other's was signed by one of the CAs (any extended key usage)
// and names the member the other side claims to be (see MemberURI). It
// does not check host names or IP addresses: peer addresses come from
// gossip, and what matters is which member answers, not where.
type Certs struct {
	files  CertFiles
	config *tls.Config               // Config's, made once: its callbacks read cur
	cur    atomic.Pointer[certState] // swapped whole by Reload
}

// CertFiles names the PEM files of a Certs.
type CertFiles struct {
	CA   string // the CA certificates that sign the members' certificates
	Cert string // this node's certificate (and the intermediates, if any)
	Key  string // its private key
}

type certState struct {
	cert tls.Certificate
	pool *x509.CertPool
}

// LoadCerts reads the files. An error names the file that is wrong.
func LoadCerts(files CertFiles) (*Certs, error) {
	c := &Certs{files: files}
	if err := c.Reload(); err != nil {
		return nil, err
	}
	c.config = c.newConfig()
	return c, nil
}

// Reload reads the files again. On an error nothing changes (a rotation
// caught half-way, the certificate written but not yet its key, is
// refused and can be retried). Safe for concurrent use.
func (c *Certs) Reload() error { return c.reload(nil) }

// reload reads the files and stores what they hold, unless check refuses
// the certificate.
func (c *Certs) reload(check func(*x509.Certificate) error) error {
	st, err := readCerts(c.files)
	if err == nil && check != nil {
		err = check(st.cert.Leaf)
	}
	if err != nil {
		return err
	}
	c.cur.Store(st)
	return nil
}

// ReloadCerts reads the files of Config.Certs again, so that new peer
// connections use the certificate, key and CAs they hold now (a
// certificate renewed, a CA added or dropped); connections made before
// keep working. A file that cannot be read, or a certificate that does not
// name this node's member (Config.Name), is an error that changes nothing.
// It logs "cluster: certificates reloaded". The demo calls it on SIGHUP.
func (s *Store) ReloadCerts() error {
	if s.cfg.Certs == nil {
		return errors.New("cluster: no certificate files to reload (Config.Certs is not set)")
	}
	if err := s.cfg.Certs.reload(s.cfg.checkOwnCert); err != nil {
		return fmt.Errorf("cluster: certificates not reloaded: %w", err)
	}
	leaf := s.cfg.Certs.Leaf()
	s.log.Info("cluster: certificates reloaded", "cert", s.cfg.Certs.files.Cert, "members", certMembers(leaf), "notAfter", leaf.NotAfter)
	return nil
}

// checkOwnCert checks that this node's certificate names its member, so
// that a wrong certificate fails here rather than in every other node's
// log.
func (c *Config) checkOwnCert(cert *x509.Certificate) error {
	if names := certMembers(cert); !slices.Contains(names, c.Name) {
		return fmt.Errorf("certificate %s names member(s) %q, not this node's Name %q (it needs a URI SAN %s)", c.Certs.files.Cert, names, c.Name, MemberURI(c.Name))
	}
	return nil
}

func readCerts(f CertFiles) (*certState, error) {
	pem, err := os.ReadFile(f.CA)
	if err != nil {
		return nil, fmt.Errorf("cluster: TLS CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("cluster: TLS CA: no PEM certificate in %s", f.CA)
	}
	cert, err := tls.LoadX509KeyPair(f.Cert, f.Key)
	if err != nil {
		return nil, fmt.Errorf("cluster: TLS cert %s and key %s: %w", f.Cert, f.Key, err)
	}
	if cert.Leaf == nil { // GODEBUG=x509keypairleaf=0 leaves it out
		if cert.Leaf, err = x509.ParseCertificate(cert.Certificate[0]); err != nil {
			return nil, fmt.Errorf("cluster: TLS cert %s: %w", f.Cert, err)
		}
	}
	return &certState{cert: cert, pool: pool}, nil
}

// Leaf returns this node's certificate as last read.
func (c *Certs) Leaf() *x509.Certificate { return c.cur.Load().cert.Leaf }

// Config returns the TLS configuration of peer connections, server and
// client side alike; every handshake reads the certificate and CAs Reload
// stored last. Do not change it.
func (c *Certs) Config() *tls.Config { return c.config }

func (c *Certs) newConfig() *tls.Config {
	own := func() (*tls.Certificate, error) { return &c.cur.Load().cert, nil }
	return &tls.Config{
		MinVersion:           tls.VersionTLS13,
		GetCertificate:       func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return own() },
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return own() },
		ClientAuth:           tls.RequireAnyClientCert, // verified by VerifyConnection
		// The client's own verification would check the dialled host,
		// which certificates of members need not name; VerifyConnection
		// verifies the chain instead, against the CAs read last.
		InsecureSkipVerify: true,
		VerifyConnection:   c.verify,
	}
}

// verify checks that the other side presented a certificate signed by one
// of the CAs. Which member it names is checked once the peer hello has
// said which member the other side claims to be (verifyMember).
func (c *Certs) verify(cs tls.ConnectionState) error {
	if len(cs.PeerCertificates) == 0 {
		return errors.New("cluster: the other side presented no certificate")
	}
	opts := x509.VerifyOptions{
		Roots:         c.cur.Load().pool,
		Intermediates: x509.NewCertPool(),
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
		CurrentTime:   time.Now(),
	}
	for _, ic := range cs.PeerCertificates[1:] {
		opts.Intermediates.AddCert(ic)
	}
	if _, err := cs.PeerCertificates[0].Verify(opts); err != nil {
		return fmt.Errorf("cluster: peer certificate: %w", err)
	}
	return nil
}

// memberScheme and memberHost make the URI that names a member in its
// certificate: sessionmesh://node/NAME.
const (
	memberScheme = "sessionmesh"
	memberHost   = "node"
)

// MemberURI is the URI a member's certificate carries as a subject
// alternative name (a URI SAN) to say which member it is:
// "sessionmesh://node/" + name, where name is the member's Config.Name
// (its node name without the boot ID), path-escaped. A URI of its own
// scheme, rather than a DNS name, so that a certificate the same CA signs
// for a web server of the same host name is no member's certificate.
func MemberURI(name string) string {
	u := url.URL{Scheme: memberScheme, Host: memberHost, Path: "/" + name}
	return u.String()
}

// certMembers returns the member names cert carries (MemberURI).
func certMembers(cert *x509.Certificate) []string {
	var names []string
	for _, u := range cert.URIs {
		if u.Scheme == memberScheme && u.Host == memberHost && strings.HasPrefix(u.Path, "/") {
			names = append(names, u.Path[1:])
		}
	}
	return names
}

// verifyMember checks that cert names the member that node (a node name,
// Config.Name + "-" + boot ID) belongs to: the binding of a peer
// connection's name to its certificate (peer.Config.VerifyName).
func verifyMember(node string, cert *x509.Certificate) error {
	member, ok := memberOf(node)
	switch {
	case !ok:
		return errors.New("not a node name (member name, '-', boot ID)")
	case cert == nil:
		return errors.New("presented no certificate")
	}
	names := certMembers(cert)
	if slices.Contains(names, member) {
		return nil
	}
	if len(names) == 0 {
		return fmt.Errorf("certificate %q names no member (a URI SAN %s)", cert.Subject.CommonName, MemberURI("NAME"))
	}
	return fmt.Errorf("certificate %q names member(s) %q, not %q", cert.Subject.CommonName, names, member)
}

// memberOf is the member name of a node name, without its boot ID
// (newNodeName); false when node is not a node name.
func memberOf(node string) (string, bool) {
	i := strings.LastIndexByte(node, '-')
	if i < 0 || len(node)-i-1 != bootIDLen {
		return "", false
	}
	return node[:i], true
}
