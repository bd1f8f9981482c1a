package redis

import (
	"crypto/tls"
	"crypto/x509"
	"os"
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
// offers TLS on that port, and verifies its certificate; a mismatch either
// way is an error that says so. (TestRedisTLSWithACLUser in package stores
// runs the suite over TLS as an ACL user, configured in YAML.)
func TestTLS(t *testing.T) {
	files := servertest.TLSCerts(t)
	withTLS, addr := servertest.WithTLS(t, files)
	srv := servertest.Redis(t, withTLS)
	pem, err := os.ReadFile(files.CA)
	if err != nil {
		t.Fatal(err)
	}
	caPool := x509.NewCertPool()
	caPool.AppendCertsFromPEM(pem)

	s := open(t, Config{Addrs: []string{addr}, TLS: &tls.Config{RootCAs: caPool, MinVersion: tls.VersionTLS12}})
	id := storetesting.Create(t, s, storetesting.Patch(time.Now(), "a", `"over tls"`))
	if got := string(storetesting.Load(t, s, id).Values["a"]); got != `"over tls"` {
		t.Fatalf("a = %s over TLS", got)
	}

	// A generous dial timeout: the handshake's certificate error is the
	// answer, and a loaded machine must not turn it into a timeout.
	untrusted := Config{Addrs: []string{addr}, TLS: &tls.Config{MinVersion: tls.VersionTLS12}, DialTimeout: 30 * time.Second, Timeout: 30 * time.Second}
	wantNewError(t, untrusted, addr, "certificate")
	plain := Config{Addrs: []string{addr}, DialTimeout: time.Second, Timeout: time.Second}
	wantNewError(t, plain, addr, "configure TLS")
	tlsToPlain := Config{Addrs: []string{srv.Addr()}, TLS: &tls.Config{RootCAs: caPool}, DialTimeout: 500 * time.Millisecond, Timeout: 500 * time.Millisecond}
	wantNewError(t, tlsToPlain, srv.Addr(), "does not speak TLS")
}

// TestClosed: after Close every call fails with session.ErrClosed and
// Close stays idempotent.
func TestClosed(t *testing.T) {
	srv := servertest.Redis(t)
	s := open(t, Config{Addrs: []string{srv.Addr()}})
	storetesting.WantClosed(t, s, storetesting.Create(t, s, storetesting.Patch(time.Now(), "a", "1")))
}
