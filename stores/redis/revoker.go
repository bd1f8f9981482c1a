package redis

import (
	"context"
	"errors"
	"fmt"

	goredis "github.com/redis/go-redis/v9"

	"github.com/sessionmesh/sessionmesh/session"
)

// Revoker keeps the generation of each principal (session.Revoker) in
// Redis, shared by every worker: one integer key per principal ever
// revoked, Prefix+"gen:"+principal ("sess:gen:alice"; no session ID holds
// a ':'), which Revoke INCRs and nothing expires. A principal never revoked
// has no key and is at generation 0, so Generation is one GET and costs no
// memory. The keys must last: a Redis that loses one (FLUSHALL, a restart
// without persistence, eviction under a maxmemory-policy that evicts keys
// without a TTL) takes the principal back to 0, and the sessions recorded
// at 0 before its first revoke open again. Keep the revoker's Redis
// persistent with maxmemory-policy noeviction or volatile-*.
type Revoker struct {
	s   *Store
	own bool // Close closes s
}

var _ session.Revoker = (*Revoker)(nil)

// NewRevoker connects to Redis as New does, for a Revoker of its own (for
// sessions kept in another store: the cookie store, Memcache). Close it
// when done. Of cfg it uses the connection and Prefix.
func NewRevoker(cfg Config) (*Revoker, error) {
	s, err := New(cfg)
	if err != nil {
		return nil, err
	}
	return &Revoker{s: s, own: true}, nil
}

// Revoker returns a Revoker on s's connections, its keys under s's
// Prefix. Closing s closes it.
func (s *Store) Revoker() *Revoker { return &Revoker{s: s} }

// Generation implements session.Revoker with one GET.
func (r *Revoker) Generation(ctx context.Context, principal string) (uint64, error) {
	gen, err := r.s.client.Get(ctx, r.key(principal)).Uint64()
	if errors.Is(err, goredis.Nil) {
		return 0, nil
	}
	if err != nil {
		return 0, r.fail(ctx, "read the generation of", err)
	}
	return gen, nil
}

// Revoke implements session.Revoker with one INCR.
func (r *Revoker) Revoke(ctx context.Context, principal string) (uint64, error) {
	gen, err := r.s.client.Incr(ctx, r.key(principal)).Uint64()
	if err != nil {
		return 0, r.fail(ctx, "revoke", err)
	}
	return gen, nil
}

// Close closes the connections of a Revoker from NewRevoker; for one from
// Store.Revoker it does nothing (close the Store).
func (r *Revoker) Close() error {
	if !r.own {
		return nil
	}
	return r.s.Close()
}

func (r *Revoker) key(principal string) string { return r.s.cfg.Prefix + "gen:" + principal }

// fail wraps an error of the server as Store.fail does, without naming the
// principal (often an e-mail address) in what gets logged.
func (r *Revoker) fail(ctx context.Context, op string, err error) error {
	if errors.Is(err, goredis.ErrClosed) {
		err = session.ErrClosed
	}
	if cerr := ctxErr(ctx); cerr != nil && !errors.Is(err, cerr) {
		return fmt.Errorf("redis: %s a principal on %s: %w (%w)", op, r.s.describe(), cerr, err)
	}
	return fmt.Errorf("redis: %s a principal on %s: %w", op, r.s.describe(), err)
}
