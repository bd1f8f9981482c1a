package redis

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"

	goredis "github.com/redis/go-redis/v9"

	"github.com/sessionmesh/sessionmesh/session"
)

// The principal index (session.PrincipalIndex). Each principal with
// sessions has a set of their IDs under Prefix + "principal:" + the first
// 32 hex digits of the SHA-256 of the principal (the key names no user in
// the clear, with or without sealing), and each session's hash names its
// set in the field "principal". The scripts keep both atomically with the
// session: create and patch add the session to its set, a patch that
// changes the principal moves it, renew moves the member to the new ID,
// delete takes it out, and every write that sets the session's TTL lifts
// the set's TTL to at least as much, so the set outlives its longest
// session and then expires. Sessions that Redis expires leave their ID in
// the set until a listing finds them gone and removes them.
//
// The store learns the principal from the session's values
// (session.PrincipalOf, session.Patch.Principal), before sealing.
//
// Redis Cluster keeps no index: a session and its principal's set hash to
// different slots, and no script may reach both. There PrincipalSessions
// fails with errors.ErrUnsupported (RevokePrincipal is the alternative).

// fieldPrincipal is the metadata field that names the session's set.
const fieldPrincipal = "principal"

// principalSet returns the key of principal's set, "" for no principal or
// in Redis Cluster.
func (s *Store) principalSet(principal string) string {
	if principal == "" || s.cluster {
		return ""
	}
	sum := sha256.Sum256([]byte(principal))
	return s.cfg.Prefix + "principal:" + hex.EncodeToString(sum[:16])
}

// principalChange is ARGV[9] of the patch scripts: the set p moves the
// session to, "-" when p removes its principal, "" when p leaves it.
func (s *Store) principalChange(p *session.Patch) string {
	principal, changed := p.Principal()
	switch {
	case !changed || s.cluster:
		return ""
	case principal == "":
		return "-"
	}
	return s.principalSet(principal)
}

// PrincipalSessions implements session.PrincipalIndex: SMEMBERS of the
// principal's set, then each session's hash in one pipeline. IDs whose
// session is gone, expired or moved to another principal are removed from
// the set. In Redis Cluster it fails with errors.ErrUnsupported.
func (s *Store) PrincipalSessions(ctx context.Context, principal string) ([]session.Record, error) {
	if s.cluster {
		return nil, fmt.Errorf("redis: Redis Cluster keeps no index of a principal's sessions; "+
			"use session.Manager.RevokePrincipal (Config.Revoker): %w", errors.ErrUnsupported)
	}
	if s.closed.Load() {
		return nil, fmt.Errorf("redis: sessions of a principal: %w", session.ErrClosed)
	}
	set := s.principalSet(principal)
	ids, err := s.client.SMembers(ctx, set).Result()
	if err != nil {
		return nil, s.failList(ctx, err)
	}
	hashes := make([]*goredis.MapStringStringCmd, len(ids))
	if _, err := s.client.Pipelined(ctx, func(p goredis.Pipeliner) error {
		for i, id := range ids {
			hashes[i] = p.HGetAll(ctx, s.key(id))
		}
		return nil
	}); err != nil {
		return nil, s.failList(ctx, err)
	}
	var recs []session.Record
	var stale []any
	for i, id := range ids {
		rec, ok := parseHash(hashes[i].Val())
		if !ok || rec.ID != id || rec.Expired(s.cfg.Now()) || hashes[i].Val()[fieldPrincipal] != set {
			stale = append(stale, id)
			continue
		}
		if err := s.openValues("list", &rec); err != nil {
			return nil, err
		}
		recs = append(recs, rec)
	}
	if len(stale) > 0 {
		if err := s.client.SRem(ctx, set, stale...).Err(); err != nil {
			return nil, s.failList(ctx, err)
		}
	}
	return recs, nil
}

func (s *Store) failList(ctx context.Context, err error) error {
	return s.failTo(ctx, "list the sessions of a principal", err)
}

// Count implements session.Counter: the session keys under the store's
// prefix (sessionIDs). Principal sets and other keys under the prefix are
// not sessions and are not counted; a session that expired is gone from
// Redis and never counted.
func (s *Store) Count(ctx context.Context) (int, error) {
	if s.closed.Load() {
		return 0, fmt.Errorf("redis: count: %w", session.ErrClosed)
	}
	ids, err := s.sessionIDs(ctx)
	return len(ids), err
}

// Iterate implements session.Iterator: the IDs of the sessions under the
// store's prefix (sessionIDs), then each session read as Load reads it
// (so sealed ones are opened); one deleted meanwhile is left out.
func (s *Store) Iterate(ctx context.Context, fn func(session.Record) bool) error {
	if s.closed.Load() {
		return fmt.Errorf("redis: iterate: %w", session.ErrClosed)
	}
	ids, err := s.sessionIDs(ctx)
	if err != nil {
		return err
	}
	for _, id := range ids {
		rec, found, err := s.Load(ctx, id)
		if err != nil {
			return fmt.Errorf("redis: iterate: %w", err)
		}
		if found && !fn(rec) {
			return nil
		}
	}
	return nil
}

// sessionIDs returns the IDs of the session keys under the store's
// prefix, found with SCAN (on every master of a Redis Cluster): it walks
// the database's keys in batches and blocks nothing, but costs O(keys),
// an operator's figure, not one for a request.
func (s *Store) sessionIDs(ctx context.Context) ([]string, error) {
	var mu sync.Mutex // guards ids: a cluster's masters are scanned at once
	var ids []string
	scan := func(ctx context.Context, c goredis.UniversalClient) error {
		iter := c.Scan(ctx, 0, s.cfg.Prefix+"*", 1000).Iterator()
		for iter.Next(ctx) {
			if id, ok := strings.CutPrefix(iter.Val(), s.cfg.Prefix); ok && session.ValidID(id) {
				mu.Lock()
				ids = append(ids, id)
				mu.Unlock()
			}
		}
		return iter.Err()
	}
	var err error
	if cc, ok := s.client.(*goredis.ClusterClient); ok {
		err = cc.ForEachMaster(ctx, func(ctx context.Context, c *goredis.Client) error { return scan(ctx, c) })
	} else {
		err = scan(ctx, s.client)
	}
	if err != nil {
		return nil, fmt.Errorf("redis: scan %s: %w", s.describe(), err)
	}
	return ids, nil
}
