package stores

import (
	"fmt"
	"io"

	"github.com/sessionmesh/sessionmesh/session"
	"github.com/sessionmesh/sessionmesh/stores/cookie"
	"github.com/sessionmesh/sessionmesh/stores/memory"
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
	return memory.New(memory.DefaultConfig())
}

func openCookie(cfg Config) (session.Store, error) {
	keys := make([]cookie.Key, len(cfg.Keys))
	for i, s := range cfg.Keys {
		k, err := cookie.ParseKey(s)
		if err != nil {
			return nil, fmt.Errorf("sessions.keys[%d]: %w", i, err)
		}
		keys[i] = k
	}
	return cookie.New(cookie.Config{Keys: keys, CookieName: cfg.Key})
}

// openRedis is filled in by the stores/redis work (issue 3).
func openRedis(cfg Config) (session.Store, error) {
	return nil, fmt.Errorf("the redis store is not built yet (issue 3)")
}

// openMemcache is filled in by the stores/memcache work (issue 3).
func openMemcache(cfg Config) (session.Store, error) {
	return nil, fmt.Errorf("the memcache store is not built yet (issue 3)")
}

// openCluster is filled in by the cluster work (issue 4).
func openCluster(cfg Config) (session.Store, error) {
	return nil, fmt.Errorf("the shared memory store (cluster) is not built yet (issue 4)")
}
