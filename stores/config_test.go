package stores_test

import (
	"encoding/base64"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/sessionmesh/sessionmesh/session"
	"github.com/sessionmesh/sessionmesh/stores"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// testKey returns a cookie key "ID:BASE64" with an n-byte secret.
func testKey(id string, n int) string {
	return id + ":" + base64.StdEncoding.EncodeToString([]byte(strings.Repeat("k", n)))
}

var secret32 = base64.StdEncoding.EncodeToString([]byte(strings.Repeat("s", 32)))

func TestDefaultConfigIsValid(t *testing.T) {
	c := stores.DefaultConfig()
	if err := c.Validate(); err != nil {
		t.Fatalf("DefaultConfig().Validate() = %v", err)
	}
	if c.Store != "memory" || c.CookieName != "sid" || time.Duration(c.IdleTimeout) != 14*24*time.Hour {
		t.Fatalf("defaults %+v, want memory, sid, 14 days (Geddy's)", c)
	}
}

func TestValidate(t *testing.T) {
	cluster := func(c *stores.Config, cl stores.ClusterConfig) { c.Cluster = &cl }
	tests := []struct {
		name   string
		change func(c *stores.Config)
		want   []string // substrings of the error; none means valid
	}{
		{"unknown store", func(c *stores.Config) { c.Store = "mongo" }, []string{"sessions.store", `"mongo"`, "memory, cookie, memcache, redis"}},
		{"store names are lower case", func(c *stores.Config) { c.Store = "Redis" }, []string{"sessions.store"}},
		{"empty store means memory", func(c *stores.Config) { c.Store = "" }, nil},
		{"cookie name with a space", func(c *stores.Config) { c.CookieName = "s id" }, []string{"sessions.key"}},
		{"negative expiry", func(c *stores.Config) { c.IdleTimeout = -1 }, []string{"sessions.expiry"}},
		{"zero expiry means default", func(c *stores.Config) { c.IdleTimeout = 0 }, nil},
		{"negative lifetime", func(c *stores.Config) { c.Lifetime = stores.Duration(-time.Hour) }, []string{"sessions.lifetime"}},
		{"negative remember-me timeouts", func(c *stores.Config) { c.RememberMe.IdleTimeout, c.RememberMe.Lifetime = -1, -1 },
			[]string{"sessions.rememberMe.expiry", "sessions.rememberMe.lifetime"}},
		{"zero remember-me expiry means default", func(c *stores.Config) { c.RememberMe.IdleTimeout = 0 }, nil},
		{"secure out of range (set in Go)", func(c *stores.Config) { c.Cookie.Secure = 7 }, []string{"sessions.cookie.secure", "auto, true, false"}},
		{"sameSite relaxed", func(c *stores.Config) { c.Cookie.SameSite = "relaxed" }, []string{"sessions.cookie.sameSite", "lax, strict, none"}},
		{"sameSite none without secure", func(c *stores.Config) { c.Cookie.SameSite = "none" }, []string{"sessions.cookie.sameSite", "secure: true"}},
		{"sameSite None with secure", func(c *stores.Config) { c.Cookie.SameSite, c.Cookie.Secure = "None", session.SecureAlways }, nil},
		{"relative path", func(c *stores.Config) { c.Cookie.Path = "app" }, []string{"sessions.cookie.path"}},
		{"domain with ;", func(c *stores.Config) { c.Cookie.Domain = "a.com;x" }, []string{"sessions.cookie.domain"}},
		{"__Host- name with secure: false", func(c *stores.Config) { c.CookieName, c.Cookie.Secure = "__Host-sid", session.SecureNever },
			[]string{"sessions.cookie.secure", "__Host-"}},
		{"__Host- name with a path and a domain", func(c *stores.Config) {
			c.CookieName, c.Cookie.Path, c.Cookie.Domain = "__Host-sid", "/app", "example.com"
		}, []string{"sessions.cookie.path", "sessions.cookie.domain"}},
		{"__Host- name with secure: auto", func(c *stores.Config) { c.CookieName = "__Host-sid" }, nil},
		{"__Secure- name with secure: false", func(c *stores.Config) { c.CookieName, c.Cookie.Secure = "__Secure-sid", session.SecureNever },
			[]string{"sessions.cookie.secure", "__Secure-"}},
		{"partitioned with secure: false", func(c *stores.Config) { c.Cookie.Partitioned, c.Cookie.Secure = true, session.SecureNever },
			[]string{"sessions.cookie.secure", "Partitioned"}},
		{"partitioned with secure: auto", func(c *stores.Config) { c.Cookie.Partitioned = true }, nil},

		{"cookie store without keys", func(c *stores.Config) { c.Store = "cookie" }, []string{"sessions.keys", "at least one key"}},
		{"cookie key of 16 bytes", func(c *stores.Config) { c.Store, c.Keys = "cookie", []string{testKey("k1", 16)} }, []string{"sessions.keys[0]", "32"}},
		{"cookie key not ID:BASE64", func(c *stores.Config) { c.Store, c.Keys = "cookie", []string{"secret"} }, []string{"sessions.keys[0]"}},
		{"cookie key IDs repeat", func(c *stores.Config) {
			c.Store, c.Keys = "cookie", []string{testKey("k1", 32), testKey("k1", 32)}
		}, []string{"sessions.keys[1]", `"k1"`}},
		{"cookie store with keys", func(c *stores.Config) { c.Store, c.Keys = "cookie", []string{testKey("k2", 32), testKey("k1", 32)} }, nil},
		{"memory store ignores bad keys", func(c *stores.Config) { c.Keys = []string{"junk"} }, nil},

		{"memcache without servers", func(c *stores.Config) { c.Store, c.Servers = "memcache", nil }, []string{"sessions.servers"}},
		{"memcache server without port", func(c *stores.Config) { c.Store, c.Servers = "memcache", []string{"localhost"} }, []string{"sessions.servers[0]", "host:port"}},
		{"memcache default servers", func(c *stores.Config) { c.Store = "memcache" }, nil},
		{"memcache Unix socket", func(c *stores.Config) {
			c.Store, c.Servers = "memcache", []string{"/run/memcached/memcached.sock", "m2:11211"}
		}, nil},
		{"memcache relative socket path", func(c *stores.Config) { c.Store, c.Servers = "memcache", []string{"memcached.sock"} },
			[]string{"sessions.servers[0]", "absolute path"}},
		{"memcache server named twice", func(c *stores.Config) { c.Store, c.Servers = "memcache", []string{"m1:11211", "m2:11211", "m1:11211"} },
			[]string{"sessions.servers[2]", `"m1:11211"`, "once"}},
		{"memcache seal keys", func(c *stores.Config) {
			c.Store, c.SealKeys = "memcache", []string{testKey("s2", 32), testKey("s1", 32)}
		}, nil},
		{"memcache seal key IDs repeat", func(c *stores.Config) {
			c.Store, c.SealKeys = "memcache", []string{testKey("s1", 32), testKey("s1", 32)}
		}, []string{"sessions.sealKeys[1]", `"s1"`}},
		{"redis seal key of 16 bytes and one not ID:BASE64", func(c *stores.Config) {
			c.Store, c.SealKeys = "redis", []string{testKey("s1", 16), "junk"}
		}, []string{"sessions.sealKeys[0]", "32", "sessions.sealKeys[1]"}},
		{"cookie store ignores bad seal keys", func(c *stores.Config) {
			c.Store, c.Keys, c.SealKeys = "cookie", []string{testKey("k1", 32)}, []string{"junk"}
		}, nil},

		{"redis port out of range", func(c *stores.Config) { c.Store, c.Server.Port = "redis", 70000 }, []string{"sessions.server.port"}},
		{"redis addr without port", func(c *stores.Config) { c.Store, c.Server.Addrs = "redis", []string{"r1"} }, []string{"sessions.server.addrs[0]"}},
		{"redis tls cert without key", func(c *stores.Config) { c.Store, c.Server.TLS.Cert = "redis", "c.pem" }, []string{"sessions.server.tls"}},
		{"redis negative db", func(c *stores.Config) { c.Store, c.Server.Opts.DB = "redis", -1 }, []string{"sessions.server.opts"}},
		{"redis negative timeout", func(c *stores.Config) { c.Store, c.Server.Opts.Timeout = "redis", -1 }, []string{"sessions.server.opts", "timeout"}},
		{"redis cluster with a sentinel master", func(c *stores.Config) {
			c.Store, c.Server.Master, c.Server.Opts.Cluster = "redis", "mymaster", true
		}, []string{"sessions.server.opts.cluster", "Sentinel master"}},
		{"redis cluster with a db", func(c *stores.Config) {
			c.Store, c.Server.Addrs, c.Server.Opts.DB = "redis", []string{"r1:7000", "r2:7000"}, 2
		}, []string{"sessions.server.opts.db", "Redis Cluster"}},
		{"redis namespace too long", func(c *stores.Config) { c.Store, c.Server.NS = "redis", strings.Repeat("n", 300) },
			[]string{"sessions.server.ns", "at most"}},
		{"redis negative pool and retries", func(c *stores.Config) { c.Store, c.Server.Opts.PoolSize, c.Server.Opts.Retries = "redis", -1, -2 },
			[]string{"sessions.server.opts.poolSize", "sessions.server.opts.retries"}},
		{"redis sentinel", func(c *stores.Config) {
			c.Store, c.Server.Master, c.Server.Addrs = "redis", "mymaster", []string{"s1:26379", "s2:26379"}
		}, nil},
		{"redis ignores a bad cluster block", func(c *stores.Config) { c.Store = "redis"; cluster(c, stores.ClusterConfig{Replicas: 99}) }, nil},

		{"cluster on all interfaces without secret", func(c *stores.Config) { cluster(c, stores.ClusterConfig{Bind: "0.0.0.0:7946"}) },
			[]string{"sessions.cluster.secret", "not a loopback", "0.0.0.0:7946"}},
		{"cluster default bind without secret", func(c *stores.Config) { cluster(c, stores.ClusterConfig{}) }, []string{"sessions.cluster.secret"}},
		{"cluster advertised off loopback without secret", func(c *stores.Config) {
			cluster(c, stores.ClusterConfig{Bind: "127.0.0.1:7946", Advertise: "10.0.0.5"})
		}, []string{"sessions.cluster.secret"}},
		{"cluster on loopback without secret", func(c *stores.Config) { cluster(c, stores.ClusterConfig{Bind: "127.0.0.1:0"}) },
			[]string{"sessions.cluster.secret", "any local process", "insecure"}},
		{"cluster on loopback without secret, insecure", func(c *stores.Config) {
			cluster(c, stores.ClusterConfig{Bind: "127.0.0.1:0", Insecure: true})
		}, nil},
		{"insecure does not open a public address", func(c *stores.Config) {
			cluster(c, stores.ClusterConfig{Bind: "0.0.0.0:7946", Insecure: true})
		}, []string{"sessions.cluster.secret", "not a loopback"}},
		{"cluster peer port off loopback without secret", func(c *stores.Config) {
			cluster(c, stores.ClusterConfig{Bind: "127.0.0.1:7946", PeerBind: "0.0.0.0:7947"})
		}, []string{"sessions.cluster.secret", "0.0.0.0:7947", "not a loopback", "openssl rand -base64"}},
		{"cluster on loopback with a loopback peer port", func(c *stores.Config) {
			cluster(c, stores.ClusterConfig{Bind: "127.0.0.1:7946", PeerBind: "127.0.0.1:7947", Advertise: "localhost", Insecure: true})
		}, nil},
		{"cluster bind is an IP, not a host name", func(c *stores.Config) { cluster(c, stores.ClusterConfig{Bind: "localhost:7946"}) },
			[]string{"sessions.cluster.bind", "localhost"}},
		{"cluster bind without an IP", func(c *stores.Config) { cluster(c, stores.ClusterConfig{Bind: ":7946", Secret: secret32}) },
			[]string{"sessions.cluster.bind"}},
		{"cluster peerBind without port", func(c *stores.Config) { cluster(c, stores.ClusterConfig{PeerBind: "0.0.0.0", Secret: secret32}) },
			[]string{"sessions.cluster.peerBind"}},
		{"cluster with secret", func(c *stores.Config) {
			cluster(c, stores.ClusterConfig{Join: []string{"worker1", "worker2:7946"}, Replicas: 3, Secret: secret32})
		}, nil},
		{"cluster secret of 8 bytes", func(c *stores.Config) { cluster(c, stores.ClusterConfig{Secret: "AAAAAAAAAAA="}) },
			[]string{"sessions.cluster.secret", "8 bytes", "at least 16"}},
		{"cluster secret not base64", func(c *stores.Config) { cluster(c, stores.ClusterConfig{Secret: "not base64!"}) },
			[]string{"sessions.cluster.secret", "base64"}},
		{"cluster snapshot in a missing directory", func(c *stores.Config) {
			cluster(c, stores.ClusterConfig{Snapshot: "/nonexistent-dir/worker.snapshot", Secret: secret32})
		}, []string{"sessions.cluster.snapshot", "directory that exists"}},
		{"cluster replicas 9", func(c *stores.Config) { cluster(c, stores.ClusterConfig{Replicas: 9, Secret: secret32}) },
			[]string{"sessions.cluster.replicas", "1 to 7"}},
		{"cluster bind without port", func(c *stores.Config) { cluster(c, stores.ClusterConfig{Bind: "0.0.0.0", Secret: secret32}) },
			[]string{"sessions.cluster.bind"}},
		{"cluster empty seed", func(c *stores.Config) { cluster(c, stores.ClusterConfig{Join: []string{""}, Secret: secret32}) },
			[]string{"sessions.cluster.join[0]"}},
		{"cluster seed with a space", func(c *stores.Config) { cluster(c, stores.ClusterConfig{Join: []string{"a b"}, Secret: secret32}) },
			[]string{"sessions.cluster.join[0]", `"a b"`}},
		{"cluster seed as a URL", func(c *stores.Config) {
			cluster(c, stores.ClusterConfig{Join: []string{"w1", "w2:7946", "http://w3"}, Secret: secret32})
		}, []string{"sessions.cluster.join[2]"}},
		{"cluster seeds as one comma list", func(c *stores.Config) { cluster(c, stores.ClusterConfig{Join: []string{"w1,w2"}, Secret: secret32}) },
			[]string{"sessions.cluster.join[0]"}},
		{"cluster negative replicas", func(c *stores.Config) { cluster(c, stores.ClusterConfig{Replicas: -1, Secret: secret32}) },
			[]string{"sessions.cluster.replicas"}},

		{"every problem reported", func(c *stores.Config) { c.IdleTimeout, c.Cookie.SameSite = -1, "x" },
			[]string{"sessions.expiry", "sessions.cookie.sameSite"}},
		{"a secret that is not base64 and a bad seed", func(c *stores.Config) {
			cluster(c, stores.ClusterConfig{Secret: "not base64!", Join: []string{"a b"}})
		}, []string{"sessions.cluster.secret is not base64", "sessions.cluster.join[0]"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := stores.DefaultConfig()
			tt.change(&c)
			err := c.Validate()
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate() = nil, want an error naming %q", tt.want)
			}
			if !errors.Is(err, session.ErrInvalidConfig) {
				t.Errorf("error %v does not wrap session.ErrInvalidConfig", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Validate() = %q, want it to mention %q", err, w)
				}
			}
		})
	}
}

func TestSessionConfig(t *testing.T) {
	c := stores.DefaultConfig()
	c.CookieName, c.IdleTimeout, c.Lifetime = "app_sid", stores.Duration(time.Hour), stores.Duration(24*time.Hour)
	c.Cookie = stores.CookieConfig{Secure: session.SecureAlways, SameSite: "Strict", Domain: "example.com", Path: "/app", TrustProxy: true}
	c.Logger = slog.New(slog.DiscardHandler)
	sc := c.Session(nil)
	if sc.Logger != c.Logger {
		t.Errorf("Session().Logger = %v, want the Config's Logger", sc.Logger)
	}
	want := session.CookieConfig{Path: "/app", Domain: "example.com", Secure: session.SecureAlways, SameSite: http.SameSiteStrictMode, TrustProxy: true}
	if sc.CookieName != "app_sid" || sc.IdleTimeout != time.Hour || sc.Lifetime != 24*time.Hour || sc.Cookie != want {
		t.Fatalf("Session() = %+v, want cookie app_sid, idle 1h, lifetime 24h, cookie %+v", sc, want)
	}
	c.RememberMe = stores.RememberMeConfig{IdleTimeout: stores.Duration(30 * 24 * time.Hour), Lifetime: stores.Duration(90 * 24 * time.Hour)}
	if got, want := c.Session(nil).RememberMe, (session.Timeouts{Idle: 30 * 24 * time.Hour, Lifetime: 90 * 24 * time.Hour}); got != want {
		t.Fatalf("Session().RememberMe = %+v, want %+v", got, want)
	}
	c.RememberMe.IdleTimeout = 0 // 30 days, whatever the lifetime
	if got := c.Session(nil).RememberMe.Idle; got != 30*24*time.Hour {
		t.Fatalf("Session().RememberMe.Idle with expiry 0 = %v, want 30 days", got)
	}
	for text, want := range map[string]session.SecureMode{
		"": session.SecureAuto, "auto": session.SecureAuto, "true": session.SecureAlways, "false": session.SecureNever,
	} {
		c, err := stores.Parse([]byte("sessions:\n  cookie: {secure: "+text+"}\n"), "yaml")
		if err != nil {
			t.Fatalf("secure %q: %v", text, err)
		}
		if got := c.Session(nil).Cookie.Secure; got != want {
			t.Errorf("secure %q -> %v, want %v", text, got, want)
		}
	}
}

func TestSessionConfigMakesAManager(t *testing.T) {
	c := stores.DefaultConfig()
	st, err := stores.Open(c)
	if err != nil {
		t.Fatal(err)
	}
	defer stores.Close(st)
	m, err := session.NewManager(c.Session(st))
	if err != nil {
		t.Fatalf("NewManager(DefaultConfig().Session(st)) = %v", err)
	}
	if got := m.Config().IdleTimeout; got != 14*24*time.Hour {
		t.Fatalf("manager idle timeout %v, want 14 days", got)
	}
}
