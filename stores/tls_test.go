package stores_test

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sessionmesh/sessionmesh/internal/servertest"
	"github.com/sessionmesh/sessionmesh/session"
	"github.com/sessionmesh/sessionmesh/stores"
	"github.com/sessionmesh/sessionmesh/stores/redis"
	"github.com/sessionmesh/sessionmesh/stores/storetest"
)

// TestRedisTLSWithACLUser: the Redis store, configured in YAML with a CA, a
// client certificate and an ACL user, passes the conformance suite against
// a redis-server that speaks TLS and knows only that user (the default user
// is off); a wrong password, an untrusted server certificate, plain TCP to
// the TLS port and TLS to a plain port each fail Open with an error naming
// the address and the problem.
func TestRedisTLSWithACLUser(t *testing.T) {
	files := servertest.TLSCerts(t)
	withTLS, addr := servertest.WithTLS(t, files)
	srv := servertest.Redis(t, withTLS, servertest.WithACLUser("sessions", "pw"), servertest.WithArgs("--user", "default", "off"))
	_, port, _ := strings.Cut(addr, ":")
	yaml := func(auth, ca string) string {
		return fmt.Sprintf(`
sessions:
  store: redis
  server:
    port: %s
    username: sessions
    auth: %s
    opts: { dialTimeout: 30s, timeout: 30s }
    tls: { ca: %q, cert: %q, key: %q, serverName: localhost }
`, port, auth, ca, files.ClientCert, files.ClientKey)
	}
	cfg := loadString(t, "tls.yaml", yaml("pw", files.CA))
	st, err := stores.Open(cfg)
	if err != nil {
		t.Fatalf("Open over TLS as an ACL user: %v", err)
	}
	roundTrip(t, st)
	stores.Close(st)

	tlsCfg, err := cfg.Server.TLS.Config()
	if err != nil {
		t.Fatal(err)
	}
	storetest.Run(t, func(t *testing.T, now func() time.Time) session.Store {
		s, err := redis.New(redis.Config{Addrs: []string{addr}, Username: "sessions", Password: "pw", TLS: tlsCfg,
			DialTimeout: 30 * time.Second, Timeout: 30 * time.Second, Now: now})
		if err != nil {
			t.Fatalf("redis.New over TLS: %v", err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})

	otherCA := servertest.TLSCerts(t).CA
	plain := loadString(t, "plain.yaml", strings.ReplaceAll(yaml("pw", files.CA), "    tls:", "    #tls:"))
	plain.Server.Opts.DialTimeout, plain.Server.Opts.Timeout = stores.Duration(time.Second), stores.Duration(time.Second)
	toPlainPort := loadString(t, "to-plain.yaml", strings.Replace(yaml("pw", files.CA), "port: "+port, "port: "+strconv.Itoa(srv.Port()), 1))
	toPlainPort.Server.Opts.DialTimeout, toPlainPort.Server.Opts.Timeout = stores.Duration(time.Second), stores.Duration(time.Second)
	for _, tc := range []struct {
		name string
		cfg  stores.Config
		want []string
	}{
		{"wrong password", loadString(t, "wrong-pw.yaml", yaml("nope", files.CA)), []string{addr, "WRONGPASS"}},
		{"untrusted CA", loadString(t, "wrong-ca.yaml", yaml("pw", otherCA)), []string{addr, "certificate signed by unknown authority"}},
		{"plain TCP to the TLS port", plain, []string{addr, "closed the connection", "configure TLS"}},
		{"TLS to a plain port", toPlainPort, []string{srv.Addr(), "TLS is on", "does not speak TLS"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, err := stores.Open(tc.cfg)
			if err == nil {
				stores.Close(st)
				t.Fatal("Open succeeded")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Open: %v; want it to say %q", err, w)
				}
			}
		})
	}
}
