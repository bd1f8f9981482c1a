package stores_test

import (
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/sessionmesh/sessionmesh/session"
	"github.com/sessionmesh/sessionmesh/stores"
)

// env returns a lookup function over m, standing in for os.LookupEnv.
func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := m[k]
		return v, ok
	}
}

func TestApplyEnv(t *testing.T) {
	tests := []struct {
		name  string
		env   map[string]string
		check func(c stores.Config) bool
	}{
		{"store", map[string]string{"SESSIONS_STORE": "redis"}, func(c stores.Config) bool { return c.Store == "redis" }},
		{"expiry in seconds", map[string]string{"SESSIONS_EXPIRY": "3600"}, func(c stores.Config) bool { return time.Duration(c.IdleTimeout) == time.Hour }},
		{"expiry as a duration", map[string]string{"SESSIONS_EXPIRY": "90m"}, func(c stores.Config) bool { return time.Duration(c.IdleTimeout) == 90*time.Minute }},
		{"keys list", map[string]string{"SESSIONS_KEYS": " k2:AA , k1:BB,"}, func(c stores.Config) bool {
			return reflect.DeepEqual(c.Keys, []string{"k2:AA", "k1:BB"})
		}},
		{"servers list", map[string]string{"SESSIONS_SERVERS": "mc1:11211,mc2:11211"}, func(c stores.Config) bool {
			return reflect.DeepEqual(c.Servers, []string{"mc1:11211", "mc2:11211"})
		}},
		{"redis server", map[string]string{"SESSIONS_SERVER_HOST": "redis", "SESSIONS_SERVER_PORT": "6380", "SESSIONS_SERVER_AUTH": "pw", "SESSIONS_SERVER_NS": "app:"},
			func(c stores.Config) bool {
				s := c.Server
				return s.Host == "redis" && s.Port == 6380 && s.Auth == "pw" && s.NS == "app:" && s.Addr() == "redis:6380"
			}},
		{"sentinel", map[string]string{"SESSIONS_SERVER_MASTER": "mymaster", "SESSIONS_SERVER_ADDRS": "s1:26379,s2:26379"}, func(c stores.Config) bool {
			return c.Server.Master == "mymaster" && len(c.Server.Addrs) == 2
		}},
		{"tls", map[string]string{"SESSIONS_SERVER_TLS": "true"}, func(c stores.Config) bool { return c.Server.TLS.On() }},
		{"cookie", map[string]string{"SESSIONS_COOKIE_SECURE": "true", "SESSIONS_COOKIE_SAMESITE": "strict", "SESSIONS_COOKIE_PARTITIONED": "true"},
			func(c stores.Config) bool {
				return c.Cookie.Secure == session.SecureAlways && c.Cookie.SameSite == "strict" && c.Cookie.Partitioned
			}},
		{"cluster variables create the block", map[string]string{"SESSIONS_CLUSTER_JOIN": "worker1,worker2", "SESSIONS_CLUSTER_REPLICAS": "3", "SESSIONS_CLUSTER_QUORUM": "true"},
			func(c stores.Config) bool {
				return c.Cluster != nil && reflect.DeepEqual(c.Cluster.Join, []string{"worker1", "worker2"}) && c.Cluster.Replicas == 3 && c.Cluster.Quorum != nil && *c.Cluster.Quorum
			}},
		{"empty variables are unset", map[string]string{"SESSIONS_STORE": "", "SESSIONS_CLUSTER_JOIN": " "}, func(c stores.Config) bool {
			return c.Store == "memory" && c.Cluster == nil
		}},
		{"unrelated variables are ignored", map[string]string{"SESSION_STORE": "redis", "STORE": "redis"}, func(c stores.Config) bool {
			return c.Store == "memory"
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := stores.DefaultConfig()
			if err := c.ApplyEnv(env(tt.env)); err != nil {
				t.Fatalf("ApplyEnv(%v) = %v", tt.env, err)
			}
			if !tt.check(c) {
				t.Fatalf("ApplyEnv(%v) gave %+v", tt.env, c)
			}
		})
	}
}

func TestApplyEnvOverridesTheFile(t *testing.T) {
	c := loadString(t, "c.yaml", "sessions:\n  store: memory\n  server: {host: filehost, port: 7000}\n")
	if err := c.ApplyEnv(env(map[string]string{"SESSIONS_STORE": "redis", "SESSIONS_SERVER_HOST": "envhost"})); err != nil {
		t.Fatal(err)
	}
	if c.Store != "redis" || c.Server.Host != "envhost" || c.Server.Port != 7000 {
		t.Fatalf("after env: %+v; want env to win where set and the file elsewhere", c)
	}
}

func TestApplyEnvBadValues(t *testing.T) {
	for name, value := range map[string]string{
		"SESSIONS_EXPIRY":           "two weeks",
		"SESSIONS_LIFETIME":         "1.5",
		"SESSIONS_SERVER_PORT":      "redis",
		"SESSIONS_CLUSTER_REPLICAS": "two",
		"SESSIONS_SERVER_TLS":       "maybe",
		"SESSIONS_COOKIE_SECURE":    "yes",
	} {
		c := stores.DefaultConfig()
		before := c
		err := c.ApplyEnv(env(map[string]string{name: value}))
		if err == nil || !strings.Contains(err.Error(), name) || !strings.Contains(err.Error(), value) {
			t.Errorf("%s=%q: err = %v, want an error naming the variable and its value", name, value, err)
		}
		if !reflect.DeepEqual(c, before) {
			t.Errorf("%s=%q: the config changed although the value was refused", name, value)
		}
	}
}

// TestEveryEnvVarChangesTheConfig keeps EnvVars, ApplyEnv and the README
// in step: every variable must change something and be documented.
func TestEveryEnvVarChangesTheConfig(t *testing.T) {
	samples := map[string]string{
		"SESSIONS_STORE": "redis", "SESSIONS_KEY": "app", "SESSIONS_EXPIRY": "60", "SESSIONS_LIFETIME": "3600",
		"SESSIONS_REMEMBER_ME_EXPIRY": "86400", "SESSIONS_REMEMBER_ME_LIFETIME": "2160h",
		"SESSIONS_COOKIE_SECURE": "true", "SESSIONS_COOKIE_SAMESITE": "strict", "SESSIONS_COOKIE_DOMAIN": "example.com",
		"SESSIONS_COOKIE_PATH": "/app", "SESSIONS_COOKIE_TRUST_PROXY": "true", "SESSIONS_COOKIE_PARTITIONED": "true", "SESSIONS_KEYS": "k1:x", "SESSIONS_SEAL_KEYS": "s1:x",
		"SESSIONS_SERVERS": "mc:11211", "SESSIONS_SERVER_HOST": "r", "SESSIONS_SERVER_PORT": "1",
		"SESSIONS_SERVER_AUTH": "pw", "SESSIONS_SERVER_USERNAME": "u", "SESSIONS_SERVER_SENTINEL_AUTH": "spw",
		"SESSIONS_SERVER_NS": "x:", "SESSIONS_SERVER_ADDRS": "a:1", "SESSIONS_SERVER_MASTER": "m",
		"SESSIONS_SERVER_TLS": "true", "SESSIONS_SERVER_TLS_CA": "ca.pem", "SESSIONS_SERVER_TLS_CERT": "c.pem",
		"SESSIONS_SERVER_TLS_KEY": "k.pem", "SESSIONS_SERVER_TLS_SERVER_NAME": "redis.internal", "SESSIONS_CLUSTER_BIND": "127.0.0.1:1", "SESSIONS_CLUSTER_ADVERTISE": "h",
		"SESSIONS_CLUSTER_PEER_BIND": "127.0.0.1:2", "SESSIONS_CLUSTER_JOIN": "w1", "SESSIONS_CLUSTER_REPLICAS": "3",
		"SESSIONS_CLUSTER_SECRET": secret32, "SESSIONS_CLUSTER_SECRETS": secret32 + "," + secret32, "SESSIONS_CLUSTER_SECRET_FILE": "/run/secrets/cluster",
		"SESSIONS_CLUSTER_QUORUM": "true", "SESSIONS_CLUSTER_BACKUP_READS": "false", "SESSIONS_CLUSTER_INSECURE": "true", "SESSIONS_CLUSTER_SNAPSHOT": "/var/lib/sessions/w1.snapshot",
		"SESSIONS_CLUSTER_NAME": "w1", "SESSIONS_CLUSTER_TLS_CA": "ca.pem", "SESSIONS_CLUSTER_TLS_CERT": "w1.pem", "SESSIONS_CLUSTER_TLS_KEY": "w1-key.pem", "SESSIONS_MAX_SESSIONS": "1000", "SESSIONS_MAX_BYTES": "64MiB",
		"SESSIONS_REVOKE_STORE": "redis", "SESSIONS_REVOKE_CACHE": "5s", "SESSIONS_REVOKE_ON_DESTROY": "true",
	}
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatalf("read the README (the config reference): %v", err)
	}
	for _, name := range stores.EnvVars() {
		v, ok := samples[name]
		if !ok {
			t.Errorf("%s has no sample value in this test", name)
			continue
		}
		c := stores.DefaultConfig()
		if err := c.ApplyEnv(env(map[string]string{name: v})); err != nil {
			t.Errorf("%s=%s: %v", name, v, err)
		}
		if reflect.DeepEqual(c, stores.DefaultConfig()) {
			t.Errorf("%s=%s changed nothing", name, v)
		}
		if !strings.Contains(string(readme), name) {
			t.Errorf("%s is not in the README's config reference", name)
		}
	}
}
