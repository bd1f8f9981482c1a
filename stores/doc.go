// Package stores turns configuration into a session.Store, so that switching
// data-store is a config change, not a code change.
//
// # Model
//
// Config mirrors the `sessions` block of Geddy's config: the store's name,
// the cookie name ("key"), the idle timeout ("expiry", seconds), an optional
// absolute lifetime, cookie attributes, and per-store settings (keys for the
// cookie store, servers for memcache, server for Redis, cluster for a memory
// store shared by every worker). It is read from a YAML or JSON file (Load),
// then overridden by SESSIONS_* environment variables (ApplyEnv), then checked
// (Validate: every error names the field and what is allowed; the cluster
// block is checked by the cluster's own rules, cluster.Config.Validate, and
// named by its YAML keys). Open builds
// the store; Config.Session builds the session.Config for the Manager.
//
//	cfg, err := stores.Load("config.yaml")   // or stores.DefaultConfig()
//	err = cfg.ApplyEnv(os.LookupEnv)
//	st, err := stores.Open(cfg)
//	defer stores.Close(st)
//	m, err := session.NewManager(cfg.Session(st))
//
// Settings of stores other than the one selected are ignored (not checked,
// not used): a deployment can keep its cluster block and switch to Redis with
// SESSIONS_STORE=redis alone.
package stores
