package stores

import (
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/sessionmesh/sessionmesh/cluster"
	"github.com/sessionmesh/sessionmesh/internal/netaddr"
	"github.com/sessionmesh/sessionmesh/session"
	"github.com/sessionmesh/sessionmesh/stores/cookie"
	"github.com/sessionmesh/sessionmesh/stores/internal/aead"
	"github.com/sessionmesh/sessionmesh/stores/memcache"
	"github.com/sessionmesh/sessionmesh/stores/memory"
	"github.com/sessionmesh/sessionmesh/stores/redis"
)

// Open validates cfg and builds the store it names. The store may hold
// resources (a sweeper, connections, a cluster membership): release them with
// Close when done.
func Open(cfg Config) (session.Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	var (
		st  session.Store
		err error
	)
	// One case and one small function per store: the engineers of the
	// redis, memcache and cluster stores fill in theirs.
	switch cfg.storeName() {
	case Memory:
		if cfg.Cluster != nil {
			st, err = openCluster(cfg)
		} else {
			st, err = openMemory(cfg)
		}
	case Cookie:
		st, err = openCookie(cfg)
	case Redis:
		st, err = openRedis(cfg)
	case Memcache:
		st, err = openMemcache(cfg)
	default:
		open, _ := opener(cfg.storeName()) // Validate checked it is there
		st, err = open(cfg)
		if err == nil && st == nil {
			err = fmt.Errorf("its Opener returned no store and no error")
		}
	}
	if err != nil {
		return nil, fmt.Errorf("stores: open %s store: %w", cfg.storeName(), err)
	}
	return st, nil
}

// Close releases st's resources when it has any (it implements io.Closer).
func Close(st session.Store) error {
	if c, ok := st.(io.Closer); ok {
		return c.Close()
	}
	return nil
}

func openMemory(cfg Config) (session.Store, error) {
	return memory.New(memory.Config{MaxSessions: cfg.MaxSessions, MaxBytes: int64(cfg.MaxBytes)})
}

func openCookie(cfg Config) (session.Store, error) {
	keys, err := parseKeys("keys", cfg.Keys)
	if err != nil {
		return nil, err
	}
	return cookie.New(cookie.Config{Keys: keys, CookieName: cfg.CookieName})
}

// parseKeys parses the "ID:BASE64" keys of the YAML list field.
func parseKeys(field string, list []string) ([]aead.Key, error) {
	var keys []aead.Key
	for i, s := range list {
		k, err := aead.ParseKey(s)
		if err != nil {
			return nil, fmt.Errorf("sessions.%s[%d]: %w", field, i, err)
		}
		keys = append(keys, k)
	}
	return keys, nil
}

// openRedis opens the Redis store.
func openRedis(cfg Config) (session.Store, error) {
	rc, err := redisConfig(cfg)
	if err != nil {
		return nil, err
	}
	return redis.New(rc)
}

// redisConfig maps sessions.server to the Redis store's Config: addrs
// replace host and port (the sentinels with master, else cluster seeds).
func redisConfig(cfg Config) (redis.Config, error) {
	srv := &cfg.Server
	tlsCfg, err := srv.TLS.Config()
	if err != nil {
		return redis.Config{}, err
	}
	keys, err := parseKeys("sealKeys", cfg.SealKeys)
	if err != nil {
		return redis.Config{}, err
	}
	rc := srv.redis()
	rc.TLS, rc.Keys, rc.Logger = tlsCfg, keys, cfg.Logger
	return rc, nil
}

// redis is the Redis store's Config for the block, without what must be
// read or parsed first (TLS files, sealing keys) or is not in it (the
// logger): what Validate checks with the store's own rules.
func (srv *ServerConfig) redis() redis.Config {
	addrs := srv.Addrs
	if len(addrs) == 0 {
		addrs = []string{srv.Addr()}
	}
	return redis.Config{
		Addrs:            addrs,
		MasterName:       srv.Master,
		Cluster:          srv.Opts.Cluster,
		Username:         srv.Username,
		Password:         srv.Auth,
		SentinelPassword: srv.SentinelAuth,
		DB:               srv.Opts.DB,
		Prefix:           srv.NS,
		DialTimeout:      time.Duration(srv.Opts.DialTimeout),
		Timeout:          time.Duration(srv.Opts.Timeout),
		PoolSize:         srv.Opts.PoolSize,
		Retries:          srv.Opts.Retries,
	}
}

// openMemcache maps sessions.servers and sealKeys to the Memcache store; of
// sessions.server.opts it takes timeout and poolSize (idle connections kept
// per server).
func openMemcache(cfg Config) (session.Store, error) {
	keys, err := parseKeys("sealKeys", cfg.SealKeys)
	if err != nil {
		return nil, err
	}
	return memcache.New(memcache.Config{
		Servers:      cfg.Servers,
		Timeout:      time.Duration(cfg.Server.Opts.Timeout),
		MaxIdleConns: cfg.Server.Opts.PoolSize,
		Keys:         keys,
	})
}

// openCluster maps sessions.cluster to a cluster node.
func openCluster(cfg Config) (session.Store, error) {
	secrets, err := cfg.Cluster.SecretList()
	if err != nil {
		return nil, err
	}
	node := cfg.Cluster.node(secrets, cfg.Logger)
	if node.Certs, err = cfg.Cluster.TLS.Certs(); err != nil {
		return nil, err
	}
	node.MaxSessions, node.MaxBytes = cfg.MaxSessions, int64(cfg.MaxBytes)
	return cluster.New(node)
}

// node is the cluster's Config for the block. Loopback binds get the local
// timers (a dead worker is noticed in about a second); anything else gets
// memberlist's LAN timers. Zero fields keep the cluster's defaults; a nil
// logger keeps slog.Default().
func (c *ClusterConfig) node(secrets [][]byte, logger *slog.Logger) cluster.Config {
	cc := cluster.DefaultConfig()
	if netaddr.IsLoopback(c.BindAddr()) {
		cc = cluster.DefaultLocalConfig()
	}
	cc.Bind, cc.Advertise, cc.PeerBind, cc.Join, cc.Secrets = c.BindAddr(), c.Advertise, c.PeerBind, c.Join, secrets
	cc.AvailableFirst = c.Quorum != nil && !*c.Quorum
	cc.Insecure = c.Insecure
	cc.Snapshot = c.Snapshot
	if c.BackupReads != nil && !*c.BackupReads {
		cc.ReadLease = -1
	}
	if c.Name != "" {
		cc.Name = c.Name
	}
	if c.Replicas != 0 {
		cc.Replicas = c.Replicas
	}
	if logger != nil {
		cc.Logger = logger
	}
	return cc
}
