package stores_test

import (
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/sessionmesh/sessionmesh/cluster"
	"github.com/sessionmesh/sessionmesh/internal/servertest"
	"github.com/sessionmesh/sessionmesh/session"
	"github.com/sessionmesh/sessionmesh/stores"
)

// A worker with cluster.tls, its files named by the environment as a
// compose file would, starts a node whose peer traffic is mutual TLS.
func TestClusterTLSFromEnv(t *testing.T) {
	ca := servertest.NewCA(t)
	cert, key := ca.Issue(t, "w1", cluster.MemberURI("w1"))
	c := stores.DefaultConfig()
	err := c.ApplyEnv(env(map[string]string{
		"SESSIONS_CLUSTER_BIND": "127.0.0.1:0", "SESSIONS_CLUSTER_SECRET": secret32, "SESSIONS_CLUSTER_NAME": "w1",
		"SESSIONS_CLUSTER_TLS_CA": ca.File, "SESSIONS_CLUSTER_TLS_CERT": cert, "SESSIONS_CLUSTER_TLS_KEY": key,
	}))
	if err != nil {
		t.Fatal(err)
	}
	c.Logger = slog.New(slog.DiscardHandler)
	st, err := stores.Open(c)
	if err != nil {
		t.Fatalf("open a TLS cluster worker: %v", err)
	}
	defer stores.Close(st)
	if name := st.(*cluster.Store).Name(); !strings.HasPrefix(name, "w1-") {
		t.Fatalf("node name %q does not come from cluster.name", name)
	}
}

// Every problem of cluster.tls is refused at start-up, named as the config
// spells it.
func TestClusterTLSValidate(t *testing.T) {
	ca := servertest.NewCA(t)
	cert, key := ca.Issue(t, "w1", cluster.MemberURI("w1"))
	for name, tc := range map[string]struct {
		cfg  stores.ClusterConfig
		want []string
	}{
		"ca only":        {stores.ClusterConfig{TLS: stores.ClusterTLS{CA: ca.File}}, []string{"sessions.cluster.tls.cert is required", "sessions.cluster.tls.key is required"}},
		"missing file":   {stores.ClusterConfig{TLS: stores.ClusterTLS{CA: "/nonexistent/ca.pem", Cert: cert, Key: key}}, []string{"sessions.cluster.tls", "/nonexistent/ca.pem"}},
		"key of no cert": {stores.ClusterConfig{TLS: stores.ClusterTLS{CA: ca.File, Cert: cert, Key: ca.File}}, []string{"sessions.cluster.tls", "key"}},
		"another worker": {stores.ClusterConfig{Name: "w2", TLS: stores.ClusterTLS{CA: ca.File, Cert: cert, Key: key}}, []string{"sessions.cluster.tls.cert", `names member(s) ["w1"], not this node's Name "w2"`, "sessionmesh://node/w2"}},
		"with others":    {stores.ClusterConfig{Replicas: 9, TLS: stores.ClusterTLS{Key: key}}, []string{"sessions.cluster.replicas", "sessions.cluster.tls.ca is required"}},
	} {
		c := stores.DefaultConfig()
		cl := tc.cfg
		cl.Bind, cl.Secret = "127.0.0.1:0", secret32
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
	}
}
