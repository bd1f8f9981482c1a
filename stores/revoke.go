package stores

import (
	"fmt"
	"io"

	"github.com/sessionmesh/sessionmesh/session"
	"github.com/sessionmesh/sessionmesh/stores/memory"
	"github.com/sessionmesh/sessionmesh/stores/redis"
)

// RevokeConfig is the `revoke` block: where the generations of principals
// are kept (session.Revoker), so that Manager.RevokePrincipal ends every
// session of a user, a copy of a cookie-store cookie included.
type RevokeConfig struct {
	// Store is redis (the `server` block's connection, keys under its ns
	// as NS+"gen:"+principal; shared with the Redis store when that is
	// the store) or memory (one worker only: refused with a cluster).
	// Default "": no Revoker. SESSIONS_REVOKE_STORE.
	Store string `yaml:"store" json:"store"`

	// Cache is session.Config.RevokerCache: how long a worker reuses a
	// generation it read; a session revoked on another worker may load
	// here for up to this long. Default 0: ask on every request that
	// loads a session with a principal. SESSIONS_REVOKE_CACHE.
	Cache Duration `yaml:"cache" json:"cache"`

	// OnDestroy is session.Config.RevokeOnDestroy: logging out (Destroy)
	// revokes the user, every device and every copy of the cookie.
	// Default false: Destroy ends this session only.
	// SESSIONS_REVOKE_ON_DESTROY.
	OnDestroy bool `yaml:"onDestroy" json:"onDestroy"`
}

// OpenRevoker builds the Revoker cfg.Revoke names, for
// session.Config.Revoker (cfg.Session sets the other two fields); nil,
// nil when it names none. st is the store Open returned: a Redis store
// shares its connections, else a redis Revoker connects on its own. Close
// what it returns (Close does nothing for those without resources).
func OpenRevoker(cfg Config, st session.Store) (session.Revoker, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	switch cfg.Revoke.Store {
	case "":
		return nil, nil
	case Memory:
		return memory.NewRevoker(), nil
	}
	if rs, ok := st.(*redis.Store); ok {
		return rs.Revoker(), nil
	}
	rc, err := redisConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("stores: open the revoker: %w", err)
	}
	rc.Keys = nil // sealing is for sessions; generations are counters
	rv, err := redis.NewRevoker(rc)
	if err != nil {
		return nil, fmt.Errorf("stores: open the revoker: %w", err)
	}
	return rv, nil
}

// CloseRevoker releases rv's resources when it has any.
func CloseRevoker(rv session.Revoker) error {
	if c, ok := rv.(io.Closer); ok {
		return c.Close()
	}
	return nil
}

func (c *Config) validateRevoke() error {
	r := &c.Revoke
	var p problems
	p.check(!oneOf(r.Store, "", Redis, Memory), "revoke.store", "is %q; allowed: redis, memory, or empty for none", r.Store)
	p.check(r.Store == Memory && c.Cluster != nil, "revoke.store",
		"is memory, which keeps generations in one worker; with a cluster use redis")
	p.check(r.Cache < 0 || r.Cache > 0 && r.Store == "", "revoke.cache", "is %s; want 0, or a positive duration with revoke.store", r.Cache)
	p.check(r.OnDestroy && r.Store == "", "revoke.onDestroy", "is true without revoke.store")
	if r.Store == Redis && c.storeName() != Redis {
		p.add(c.Server.validate())
	}
	return p.join()
}
