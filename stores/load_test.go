package stores_test

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/sessionmesh/sessionmesh/session"
	"github.com/sessionmesh/sessionmesh/stores"
)

// loadString writes content to a file called name and loads it.
func loadString(t *testing.T, name, content string) stores.Config {
	t.Helper()
	c, err := loadFile(t, name, content)
	if err != nil {
		t.Fatalf("Load(%s) = %v", name, err)
	}
	return c
}

func loadFile(t *testing.T, name, content string) (stores.Config, error) {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return stores.Load(path)
}

const fullYAML = `
app: { name: shop }          # the rest of the application's config is ignored
sessions:
  store: redis
  key: shop_sid
  expiry: 3600
  lifetime: 24h
  rememberMe: { expiry: 2592000, lifetime: 2160h }
  cookie: { secure: true, sameSite: strict, domain: shop.example, path: /shop, trustProxy: true, partitioned: true }
  keys: ["k2:AAAA", "k1:BBBB"]
  servers: ["mc1:11211", "mc2:11211"]
  server:
    host: redis.local
    port: 6380
    opts: { db: 2, poolSize: 20, dialTimeout: 3, timeout: 500ms, retries: 1, cluster: false }
    auth: pw
    username: app
    sentinelAuth: spw
    ns: "shop:"
    addrs: [s1:26379, s2:26379]
    master: mymaster
    tls: { enabled: true, ca: ca.pem, cert: c.pem, key: k.pem, serverName: redis.local, insecureSkipVerify: false }
  cluster:
    bind: 0.0.0.0:7946
    advertise: worker1
    peerBind: 0.0.0.0:7947
    join: [worker1, worker2, worker3]
    replicas: 2
    secret: c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0
`

const fullJSON = `{
  "app": {"name": "shop"},
  "sessions": {
    "store": "redis", "key": "shop_sid", "expiry": 3600, "lifetime": "24h",
    "rememberMe": {"expiry": 2592000, "lifetime": "2160h"},
    "cookie": {"secure": true, "sameSite": "strict", "domain": "shop.example", "path": "/shop", "trustProxy": true, "partitioned": true},
    "keys": ["k2:AAAA", "k1:BBBB"],
    "servers": ["mc1:11211", "mc2:11211"],
    "server": {
      "host": "redis.local", "port": 6380,
      "opts": {"db": 2, "poolSize": 20, "dialTimeout": 3, "timeout": "500ms", "retries": 1, "cluster": false},
      "auth": "pw", "username": "app", "sentinelAuth": "spw", "ns": "shop:",
      "addrs": ["s1:26379", "s2:26379"], "master": "mymaster",
      "tls": {"enabled": true, "ca": "ca.pem", "cert": "c.pem", "key": "k.pem", "serverName": "redis.local", "insecureSkipVerify": false}
    },
    "cluster": {
      "bind": "0.0.0.0:7946", "advertise": "worker1", "peerBind": "0.0.0.0:7947",
      "join": ["worker1", "worker2", "worker3"], "replicas": 2,
      "secret": "c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0"
    }
  }
}`

func wantFull() stores.Config {
	return stores.Config{
		Store: "redis", CookieName: "shop_sid",
		IdleTimeout: stores.Duration(time.Hour), Lifetime: stores.Duration(24 * time.Hour),
		RememberMe: stores.RememberMeConfig{IdleTimeout: stores.Duration(30 * 24 * time.Hour), Lifetime: stores.Duration(90 * 24 * time.Hour)},
		Cookie:     stores.CookieConfig{Secure: session.SecureAlways, SameSite: "strict", Domain: "shop.example", Path: "/shop", TrustProxy: true, Partitioned: true},
		Keys:       []string{"k2:AAAA", "k1:BBBB"},
		Servers:    []string{"mc1:11211", "mc2:11211"},
		Server: stores.ServerConfig{
			Host: "redis.local", Port: 6380,
			Opts: stores.ServerOpts{DB: 2, PoolSize: 20, DialTimeout: stores.Duration(3 * time.Second),
				Timeout: stores.Duration(500 * time.Millisecond), Retries: 1},
			Auth: "pw", Username: "app", SentinelAuth: "spw", NS: "shop:",
			Addrs: []string{"s1:26379", "s2:26379"}, Master: "mymaster",
			TLS: stores.TLSConfig{Enabled: true, CA: "ca.pem", Cert: "c.pem", Key: "k.pem", ServerName: "redis.local"},
		},
		Cluster: &stores.ClusterConfig{
			Bind: "0.0.0.0:7946", Advertise: "worker1", PeerBind: "0.0.0.0:7947",
			Join: []string{"worker1", "worker2", "worker3"}, Replicas: 2,
			Secret: "c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0",
		},
	}
}

func TestLoadEveryField(t *testing.T) {
	for name, content := range map[string]string{"c.yaml": fullYAML, "c.yml": fullYAML, "c.json": fullJSON} {
		if got := loadString(t, name, content); !reflect.DeepEqual(got, wantFull()) {
			t.Errorf("Load(%s) =\n%+v\nwant\n%+v", name, got, wantFull())
		}
	}
}

func TestLoadKeepsDefaultsForMissingFields(t *testing.T) {
	for name, content := range map[string]string{
		"c.yaml": "sessions:\n  server: {host: r1}\n",
		"c.json": `{"sessions": {"server": {"host": "r1"}}}`,
	} {
		want := stores.DefaultConfig()
		want.Server.Host = "r1"
		if got := loadString(t, name, content); !reflect.DeepEqual(got, want) {
			t.Errorf("Load(%s) = %+v, want the defaults with host r1", name, got)
		}
	}
}

func TestLoadSecureAsString(t *testing.T) {
	for name, content := range map[string]string{
		"c.yaml": "sessions:\n  cookie: {secure: auto}\n",
		"c.json": `{"sessions": {"cookie": {"secure": "false"}}}`,
	} {
		got := loadString(t, name, content)
		if got.Cookie.Secure != session.SecureAuto && got.Cookie.Secure != session.SecureNever {
			t.Errorf("Load(%s): secure = %v", name, got.Cookie.Secure)
		}
	}
}

func TestLoadErrors(t *testing.T) {
	tests := []struct{ name, file, content, want string }{
		{"typo in a field", "c.yaml", "sessions:\n  expiery: 10\n", "expiery"},
		{"typo in a JSON field", "c.json", `{"sessions": {"stor": "redis"}}`, "stor"},
		{"typo in a nested field", "c.yaml", "sessions:\n  cluster: {secrte: x}\n", "secrte"},
		{"no sessions block", "c.yaml", "app: {name: x}\n", `"sessions"`},
		{"empty file", "c.yaml", "", `"sessions"`},
		{"sessions not a mapping", "c.yaml", "sessions: memory\n", `"sessions"`},
		{"no sessions in JSON", "c.json", `{"app": {}}`, `"sessions"`},
		{"JSON sessions null", "c.json", `{"sessions": null}`, `"sessions"`},
		{"expiry not a number", "c.yaml", "sessions:\n  expiry: two weeks\n", "two weeks"},
		{"port not a number", "c.json", `{"sessions": {"server": {"port": "x"}}}`, "port"},
		{"secure a number", "c.json", `{"sessions": {"cookie": {"secure": 1}}}`, "secure"},
		{"secure yes", "c.yaml", "sessions:\n  cookie: {secure: yes}\n", `secure: want auto, true or false, got "yes"`},
		{"secure a JSON word", "c.json", `{"sessions": {"cookie": {"secure": "always"}}}`, `got "always"`},
		{"broken YAML", "c.yaml", "sessions: [\n", "yaml"},
		{"broken JSON", "c.json", `{"sessions": `, "json"},
		{"unknown extension", "c.toml", "sessions = 1", ".toml"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := loadFile(t, tt.file, tt.content)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Load = %v, want an error mentioning %q", err, tt.want)
			}
			if !strings.Contains(err.Error(), tt.file) {
				t.Errorf("error %q does not name the file", err)
			}
		})
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := stores.Load(filepath.Join(t.TempDir(), "nope.yaml"))
	if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Load(missing) = %v, want os.ErrNotExist", err)
	}
}

func TestParseDuration(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"1209600", 14 * 24 * time.Hour, true},
		{"0", 0, true},
		{"-5", -5 * time.Second, true},
		{"336h", 336 * time.Hour, true},
		{"1m30s", 90 * time.Second, true},
		{" 60 ", time.Minute, true},
		{"1.5", 0, false},
		{"two weeks", 0, false},
		{"", 0, false},
		{"99999999999999999", 0, false},
	}
	for _, tt := range tests {
		got, err := stores.ParseDuration(tt.in)
		if (err == nil) != tt.ok || time.Duration(got) != tt.want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v, ok=%v", tt.in, time.Duration(got), err, tt.want, tt.ok)
		}
	}
}

// TestValidateListsEveryProblem: a config file with a problem in every group,
// and one more from the environment, is refused with one error that names
// each problem (so an operator fixes them in one round), still matching
// session.ErrInvalidConfig.
func TestValidateListsEveryProblem(t *testing.T) {
	c := loadString(t, "bad.yaml", `
sessions:
  store: redis
  key: "s id"
  lifetime: -1
  cookie: { sameSite: relaxed, path: app }
  server:
    port: 70000
    opts: { db: -1, retries: -2, timeout: -1s }
    addrs: [r1, "r2:6379", "r3:x"]
    tls: { cert: c.pem }
`)
	if err := c.ApplyEnv(env(map[string]string{"SESSIONS_EXPIRY": "-5"})); err != nil {
		t.Fatalf("ApplyEnv: %v", err)
	}
	err := c.Validate()
	if !errors.Is(err, session.ErrInvalidConfig) {
		t.Fatalf("Validate() = %v; want session.ErrInvalidConfig", err)
	}
	want := []string{
		"sessions.key", "sessions.expiry", "sessions.lifetime",
		"sessions.cookie.sameSite", "sessions.cookie.path",
		"sessions.server.port", "sessions.server.opts.db", "sessions.server.opts.retries",
		"sessions.server.opts.timeout", "sessions.server.tls",
		"sessions.server.addrs[0]", "sessions.server.addrs[2]",
	}
	msg := err.Error()
	for _, w := range want {
		if !strings.Contains(msg, w) {
			t.Errorf("the error does not name %s:\n%s", w, msg)
		}
	}
	if lines := strings.Count(msg, "\n") + 1; lines != len(want) {
		t.Errorf("the error has %d lines; want one per problem (%d):\n%s", lines, len(want), msg)
	}
	if strings.Contains(msg, "addrs[1]") {
		t.Errorf("the error names the good address addrs[1]:\n%s", msg)
	}
}

// TestValidateListsEveryBadKey: the cookie store's keys are checked one by
// one, every bad one named by its index.
func TestValidateListsEveryBadKey(t *testing.T) {
	c := stores.DefaultConfig()
	c.Store, c.Keys = "cookie", []string{"junk", testKey("k1", 32), testKey("k2", 16), testKey("k1", 32)}
	err := c.Validate()
	for _, w := range []string{"sessions.keys[0]", "sessions.keys[2]", "sessions.keys[3]", `"k1"`} {
		if !strings.Contains(fmtErr(err), w) {
			t.Errorf("Validate() = %v; want it to name %s", err, w)
		}
	}
	if strings.Contains(fmtErr(err), "keys[1]") {
		t.Errorf("Validate() = %v names the good key keys[1]", err)
	}
}

func fmtErr(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
