package stores

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/sessionmesh/sessionmesh/cluster"
	"github.com/sessionmesh/sessionmesh/session"
)

// Store names accepted in Config.Store.
const (
	Memory   = "memory"
	Cookie   = "cookie"
	Memcache = "memcache"
	Redis    = "redis"
)

// Config is the `sessions` block. Start from DefaultConfig (Load does); a
// zero field means its default. The YAML/JSON keys are Geddy's (in the
// tags; the Go names say what the fields mean where Geddy's keys do not);
// the SESSIONS_* variable that overrides a field is named in its comment.
type Config struct {
	// Store is memory, cookie, memcache, redis, or the name of a store
	// added with Register. Default memory.
	// SESSIONS_STORE.
	Store string `yaml:"store" json:"store"`

	// CookieName is the session cookie's name, key "key". Default "sid".
	// SESSIONS_KEY.
	CookieName string `yaml:"key" json:"key"`

	// IdleTimeout ends a session unused this long, key "expiry". Seconds
	// or a duration string. Default 1209600 (14 days). SESSIONS_EXPIRY.
	IdleTimeout Duration `yaml:"expiry" json:"expiry"`

	// Lifetime, when positive, ends a session this long after it was
	// created, however active. Default 0: none. SESSIONS_LIFETIME.
	Lifetime Duration `yaml:"lifetime" json:"lifetime"`

	// RememberMe is what session.Session.RememberMe gives a session (a
	// login's "remember me"): its own idle timeout and lifetime, as
	// expiry and lifetime above. Default expiry 30 days, lifetime 0 (the
	// one above). SESSIONS_REMEMBER_ME_EXPIRY, SESSIONS_REMEMBER_ME_LIFETIME.
	RememberMe RememberMeConfig `yaml:"rememberMe" json:"rememberMe"`

	// MaxSessions and MaxBytes bound the sessions the memory store holds,
	// and each worker of the shared memory store (its own and the copies
	// it keeps for others). At a bound, expired sessions and sessions never
	// used again after the request that created them are evicted; a new
	// session that would need evicting one in use is refused (503), so a
	// flood of new sessions cannot take the workers down nor log the users
	// who come back out. MaxSessions default 0: no bound on the count;
	// MaxBytes default 256MiB (bytes, or with a unit: KiB, MiB, GiB; -1: no
	// bound). Other stores bound their memory themselves.
	// SESSIONS_MAX_SESSIONS, SESSIONS_MAX_BYTES.
	MaxSessions int  `yaml:"maxSessions" json:"maxSessions"`
	MaxBytes    Size `yaml:"maxBytes" json:"maxBytes"`

	// Cookie holds the cookie attributes.
	Cookie CookieConfig `yaml:"cookie" json:"cookie"`

	// Keys are the cookie store's keys, "ID:BASE64" with a 32-byte secret;
	// the first seals, all open (rotation). Required with store cookie.
	// SESSIONS_KEYS (comma-separated).
	Keys []string `yaml:"keys" json:"keys"`

	// SealKeys, with store redis or memcache, seal what the server keeps
	// with AES-256-GCM (the README's "Sealing at rest"): "ID:BASE64" with a
	// 32-byte secret, as Keys; the first seals, all open (rotation).
	// Default none: sessions are stored in the clear.
	// SESSIONS_SEAL_KEYS (comma-separated).
	SealKeys []string `yaml:"sealKeys" json:"sealKeys"`

	// Servers are the memcache servers, "host:port". Default
	// ["127.0.0.1:11211"]. SESSIONS_SERVERS (comma-separated).
	Servers []string `yaml:"servers" json:"servers"`

	// Server is the Redis connection.
	Server ServerConfig `yaml:"server" json:"server"`

	// Revoke makes sessions revocable per user (OpenRevoker). Default:
	// no Revoker.
	Revoke RevokeConfig `yaml:"revoke" json:"revoke"`

	// Cluster, when present with store memory, makes the memory store one
	// store shared and replicated by every worker. Default absent: each
	// process keeps its own sessions. Any SESSIONS_CLUSTER_* variable makes
	// it present.
	Cluster *ClusterConfig `yaml:"cluster" json:"cluster"`

	// Options are the settings of a store added with Register (store:
	// NAME), which reads them with DecodeOptions; the built-in stores take
	// none. File only: no SESSIONS_* variable sets them.
	Options map[string]any `yaml:"options" json:"options"`

	// Logger, set in code (never read from a file), receives what a store
	// logs on its own (membership changes, replication and hand-off of the
	// shared memory store) and, through Session, what the Manager cannot
	// return to a caller. Default slog.Default().
	Logger *slog.Logger `yaml:"-" json:"-"`
}

// RememberMeConfig is the `rememberMe` block: session.Config.RememberMe.
type RememberMeConfig struct {
	IdleTimeout Duration `yaml:"expiry" json:"expiry"`     // 0: 30 days
	Lifetime    Duration `yaml:"lifetime" json:"lifetime"` // 0: sessions.lifetime
}

// timeouts is session.Config.RememberMe, expiry 0 meaning 30 days as
// DefaultRememberMe says (session.Timeouts's zero Idle is the Manager's).
func (r RememberMeConfig) timeouts() session.Timeouts {
	t := session.Timeouts{Idle: time.Duration(r.IdleTimeout), Lifetime: time.Duration(r.Lifetime)}
	if t.Idle == 0 {
		t.Idle = session.DefaultRememberMe.Idle
	}
	return t
}

// CookieConfig holds the session cookie's attributes. The cookie is always
// HttpOnly.
type CookieConfig struct {
	// Secure is auto (Secure unless the request is plain HTTP to a
	// loopback host: session.SecureAuto), true or false; a boolean or a
	// string in YAML and JSON. false is the development override for plain
	// HTTP to a name that is not loopback (a container name, a LAN
	// address). Default auto. SESSIONS_COOKIE_SECURE.
	Secure session.SecureMode `yaml:"secure" json:"secure"`

	// SameSite is lax, strict or none (none requires secure: true).
	// Default lax. SESSIONS_COOKIE_SAMESITE.
	SameSite string `yaml:"sameSite" json:"sameSite"`

	// Domain is the cookie's Domain. Default "": the host that set it.
	// SESSIONS_COOKIE_DOMAIN.
	Domain string `yaml:"domain" json:"domain"`

	// Path is the cookie's Path. Default "/". SESSIONS_COOKIE_PATH.
	Path string `yaml:"path" json:"path"`

	// TrustProxy lets secure: auto believe X-Forwarded-Proto; set it only
	// behind a TLS proxy that overwrites that header. Default false.
	// SESSIONS_COOKIE_TRUST_PROXY.
	TrustProxy bool `yaml:"trustProxy" json:"trustProxy"`

	// Partitioned adds the Partitioned attribute (CHIPS) for an app
	// embedded cross-site; it needs Secure (not secure: false). Default
	// false. SESSIONS_COOKIE_PARTITIONED.
	Partitioned bool `yaml:"partitioned" json:"partitioned"`
}

// ServerConfig is the Redis connection: a single server (host, port), or
// Sentinel (master plus the sentinels' addrs), or Redis Cluster (addrs).
type ServerConfig struct {
	// Host and Port of a single server. Default 127.0.0.1:6379.
	// SESSIONS_SERVER_HOST, SESSIONS_SERVER_PORT.
	Host string `yaml:"host" json:"host"`
	Port int    `yaml:"port" json:"port"`

	// Opts are client options.
	Opts ServerOpts `yaml:"opts" json:"opts"`

	// Auth is the password (requirepass, or the ACL user's with
	// Username). Default "": no AUTH. SESSIONS_SERVER_AUTH,
	// SESSIONS_SERVER_USERNAME.
	Auth     string `yaml:"auth" json:"auth"`
	Username string `yaml:"username" json:"username"`

	// SentinelAuth is the sentinels' own password. Default "".
	// SESSIONS_SERVER_SENTINEL_AUTH.
	SentinelAuth string `yaml:"sentinelAuth" json:"sentinelAuth"`

	// NS prefixes every session key. Default "sess:". SESSIONS_SERVER_NS.
	NS string `yaml:"ns" json:"ns"`

	// Addrs, "host:port", replace Host and Port: the sentinels when Master
	// is set, else the seed nodes of a Redis Cluster. Default none.
	// SESSIONS_SERVER_ADDRS (comma-separated).
	Addrs []string `yaml:"addrs" json:"addrs"`

	// Master is the Sentinel master name. Default "": no Sentinel.
	// SESSIONS_SERVER_MASTER.
	Master string `yaml:"master" json:"master"`

	// TLS configures TLS to the servers. Default off.
	TLS TLSConfig `yaml:"tls" json:"tls"`
}

// ServerOpts are client options of the server-side stores. Zero means the
// store's own default.
type ServerOpts struct {
	DB          int      `yaml:"db" json:"db"`                   // Redis database; default 0
	PoolSize    int      `yaml:"poolSize" json:"poolSize"`       // connections per server; default: the client's
	DialTimeout Duration `yaml:"dialTimeout" json:"dialTimeout"` // default: the store's (2s for Redis)
	Timeout     Duration `yaml:"timeout" json:"timeout"`         // per read/write; default: the store's (1s for Redis)
	Retries     int      `yaml:"retries" json:"retries"`         // default 0
	Cluster     bool     `yaml:"cluster" json:"cluster"`         // treat a single addr as a Redis Cluster seed; default false
}

// TLSConfig configures TLS to the servers. It is on when Enabled is true or
// any file is named. SESSIONS_SERVER_TLS=true turns it on;
// SESSIONS_SERVER_TLS_CA, _CERT, _KEY and _SERVER_NAME set the fields of the
// same names. InsecureSkipVerify (no verification of the server's
// certificate) has no variable, so that it is never turned on by accident:
// it takes the file.
type TLSConfig struct {
	Enabled            bool   `yaml:"enabled" json:"enabled"`
	CA                 string `yaml:"ca" json:"ca"`                 // PEM file of CAs to trust; default: the system's
	Cert               string `yaml:"cert" json:"cert"`             // client certificate PEM file; default none
	Key                string `yaml:"key" json:"key"`               // its private key PEM file; required with cert
	ServerName         string `yaml:"serverName" json:"serverName"` // default: the host dialled
	InsecureSkipVerify bool   `yaml:"insecureSkipVerify" json:"insecureSkipVerify"`
}

// ClusterConfig makes the memory store shared by every worker. It is
// validated by the cluster's own rules (cluster.Config.Validate), errors
// named by these YAML keys.
type ClusterConfig struct {
	// Name is this worker's member name: its node name is Name + "-" +
	// a boot ID, and with TLS its certificate must name it. Default: the
	// host name. SESSIONS_CLUSTER_NAME.
	Name string `yaml:"name" json:"name"`

	// Bind is the gossip "ip:port". Default "0.0.0.0:7946".
	// SESSIONS_CLUSTER_BIND.
	Bind string `yaml:"bind" json:"bind"`

	// Advertise is the "host[:port]" other nodes reach this one on.
	// Default "": derived from Bind. SESSIONS_CLUSTER_ADVERTISE.
	Advertise string `yaml:"advertise" json:"advertise"`

	// PeerBind is the session-traffic "ip:port". Default "": Bind's port
	// + 1. SESSIONS_CLUSTER_PEER_BIND.
	PeerBind string `yaml:"peerBind" json:"peerBind"`

	// Join lists seeds, "host[:port]"; host names allowed, no spaces, '/'
	// or ','. Default none.
	// SESSIONS_CLUSTER_JOIN (comma-separated).
	Join []string `yaml:"join" json:"join"`

	// Replicas is the number of copies of every session, 1 to 7.
	// Default 2. SESSIONS_CLUSTER_REPLICAS.
	Replicas int `yaml:"replicas" json:"replicas"`

	// Secret is base64 of at least 16 bytes; it encrypts and
	// authenticates gossip and peer traffic. Required, it or Secrets or
	// SecretFile (make one with openssl rand -base64 32).
	// SESSIONS_CLUSTER_SECRET.
	Secret string `yaml:"secret" json:"secret"`

	// Secrets is the list form of Secret, for a key rotation (see the
	// README's "Rotate the cluster secret"): the first encrypts what this
	// worker sends, every one is accepted. At most 4, each base64 of at
	// least 16 bytes. Set one of Secret, Secrets and SecretFile.
	// SESSIONS_CLUSTER_SECRETS (comma-separated).
	Secrets []string `yaml:"secrets" json:"secrets"`

	// SecretFile names a file of secrets, one base64 secret a line (blank
	// lines and lines starting with # are skipped), the first the one this
	// worker sends with: Secrets kept out of the config, which the demo
	// reads again on SIGHUP and applies without a restart.
	// SESSIONS_CLUSTER_SECRET_FILE.
	SecretFile string `yaml:"secretFile" json:"secretFile"`

	// TLS wraps peer traffic (session reads and writes between workers)
	// in mutual TLS 1.3. Default off.
	TLS ClusterTLS `yaml:"tls" json:"tls"`

	// Insecure lets a cluster on loopback addresses only run without a
	// secret: any local process can then read and forge every session. For
	// a test on one machine; the worker logs a warning. Default false.
	// SESSIONS_CLUSTER_INSECURE.
	Insecure bool `yaml:"insecure" json:"insecure"`

	// Quorum is the split-brain guard: a worker that sees no majority of
	// the last stable membership refuses reads and writes (503) and
	// reports not ready, so a balancer stops sending it requests until it
	// is back in the majority, and no acknowledged write is lost when the
	// network splits. With two workers, the first by name keeps serving
	// alone; a crash of the first stops the second until a worker is back.
	// false chooses availability (cluster.Config.AvailableFirst): both
	// sides of a split serve, and the writes one side made to sessions
	// the other side also wrote are lost. Default true.
	// SESSIONS_CLUSTER_QUORUM.
	Quorum *bool `yaml:"quorum" json:"quorum"`

	// Snapshot is a file, one per worker, that keeps the sessions when
	// every worker stops (cluster.Config.Snapshot): a worker that drains
	// writes what no other worker took, sealed with a key derived from the
	// secret, mode 0600; a worker that starts loads it and removes it. A
	// crash of the last worker writes nothing. Default "": none.
	// SESSIONS_CLUSTER_SNAPSHOT.
	Snapshot string `yaml:"snapshot" json:"snapshot"`

	// BackupReads lets a worker that is a backup of a session's partition
	// serve its loads from its own copy while the primary's read lease
	// covers it (cluster.Config.ReadLease): behind round-robin, two loads
	// in three need no round trip. The primary acknowledges no write the
	// backup lacks meanwhile, so a backup that stops answering makes
	// writes to its partitions wait once, at most the lease (200 ms on
	// loopback, 500 ms otherwise) and an eighth. false sends every load to
	// the primary. Every worker of a cluster must agree. Default true.
	// SESSIONS_CLUSTER_BACKUP_READS.
	BackupReads *bool `yaml:"backupReads" json:"backupReads"`
}

// ClusterTLS is the cluster's TLS (cluster.Certs): PEM files of the CA
// that signs the workers' certificates, and of this worker's certificate
// and key. Set all three to turn it on. Every worker presents its
// certificate and checks the other's: signed by the CA, and naming the
// member the other worker says it is, as a URI SAN
// sessionmesh://node/NAME, NAME its cluster.name (host names and IP
// addresses are not checked). The secret stays required: gossip is not
// TLS. The demo reads the three files again on SIGHUP.
// SESSIONS_CLUSTER_TLS_CA, _CERT and _KEY.
type ClusterTLS struct {
	CA   string `yaml:"ca" json:"ca"`
	Cert string `yaml:"cert" json:"cert"`
	Key  string `yaml:"key" json:"key"`
}

// On reports whether any of the files is named.
func (t *ClusterTLS) On() bool { return t.CA != "" || t.Cert != "" || t.Key != "" }

// Certs reads the files; nil when TLS is off. An error names the field
// that is missing or the file that is wrong.
func (t *ClusterTLS) Certs() (*cluster.Certs, error) {
	if !t.On() {
		return nil, nil
	}
	var p problems
	for _, f := range []struct{ key, file string }{{"ca", t.CA}, {"cert", t.Cert}, {"key", t.Key}} {
		p.check(f.file == "", "cluster.tls."+f.key, "is required with the other TLS files (ca, cert and key)")
	}
	if len(p) > 0 {
		return nil, p.join()
	}
	certs, err := cluster.LoadCerts(cluster.CertFiles{CA: t.CA, Cert: t.Cert, Key: t.Key})
	if err != nil {
		return nil, invalid("cluster.tls", "%v", err)
	}
	return certs, nil
}

// DefaultConfig returns the defaults: a memory store, cookie "sid", two weeks
// of idle timeout.
func DefaultConfig() Config {
	return Config{
		Store:       Memory,
		CookieName:  "sid",
		IdleTimeout: Duration(14 * 24 * time.Hour),
		RememberMe:  RememberMeConfig{IdleTimeout: Duration(session.DefaultRememberMe.Idle)},
		Cookie:      CookieConfig{Secure: session.SecureAuto, SameSite: "lax", Path: "/"},
		Servers:     []string{"127.0.0.1:11211"},
		Server:      ServerConfig{Host: "127.0.0.1", Port: 6379, NS: "sess:"},
	}
}

// storeName is Store with the default applied.
func (c *Config) storeName() string {
	if c.Store == "" {
		return Memory
	}
	return c.Store
}

// Session returns the Manager's configuration for sessions kept in st,
// logging to Logger.
func (c *Config) Session(st session.Store) session.Config {
	return session.Config{
		Store:       st,
		Logger:      c.Logger,
		CookieName:  c.CookieName,
		IdleTimeout: time.Duration(c.IdleTimeout),
		Lifetime:    time.Duration(c.Lifetime),
		RememberMe:  c.RememberMe.timeouts(),
		Cookie: session.CookieConfig{
			Path:        c.Cookie.Path,
			Domain:      c.Cookie.Domain,
			Secure:      c.Cookie.Secure,
			SameSite:    c.Cookie.sameSite(),
			TrustProxy:  c.Cookie.TrustProxy,
			Partitioned: c.Cookie.Partitioned,
		},
		// Revoker: the caller's, from OpenRevoker.
		RevokerCache:    time.Duration(c.Revoke.Cache),
		RevokeOnDestroy: c.Revoke.OnDestroy,
	}
}

func (c *CookieConfig) sameSite() http.SameSite {
	switch strings.ToLower(c.SameSite) {
	case "strict":
		return http.SameSiteStrictMode
	case "none":
		return http.SameSiteNoneMode
	}
	return http.SameSiteLaxMode
}

// Addr is the single server's "host:port", defaults applied.
func (s *ServerConfig) Addr() string {
	host, port := s.Host, s.Port
	if host == "" {
		host = "127.0.0.1"
	}
	if port == 0 {
		port = 6379
	}
	return net.JoinHostPort(host, strconv.Itoa(port))
}

// On reports whether TLS is wanted.
func (t *TLSConfig) On() bool {
	return t.Enabled || t.CA != "" || t.Cert != ""
}

// Config builds the *tls.Config, reading the named files; nil when TLS is off.
func (t *TLSConfig) Config() (*tls.Config, error) {
	if !t.On() {
		return nil, nil
	}
	tc := &tls.Config{ServerName: t.ServerName, InsecureSkipVerify: t.InsecureSkipVerify, MinVersion: tls.VersionTLS12}
	if t.CA != "" {
		pem, err := os.ReadFile(t.CA)
		if err != nil {
			return nil, fmt.Errorf("stores: sessions.server.tls.ca: %w", err)
		}
		tc.RootCAs = x509.NewCertPool()
		if !tc.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("stores: sessions.server.tls.ca: no PEM certificate in %s", t.CA)
		}
	}
	if t.Cert != "" {
		cert, err := tls.LoadX509KeyPair(t.Cert, t.Key)
		if err != nil {
			return nil, fmt.Errorf("stores: sessions.server.tls.cert/key: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

// BindAddr is Bind with the default applied: the cluster's own,
// "0.0.0.0:7946".
func (c *ClusterConfig) BindAddr() string {
	if c.Bind == "" {
		return cluster.DefaultConfig().Bind
	}
	return c.Bind
}
