package cluster

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/sessionmesh/sessionmesh/session"
)

// renewAttempts bounds how often renew re-copies a session that a
// concurrent patch changed under it.
const renewAttempts = 5

var errRenewContended = errors.New("the session kept changing during renew")

// renew moves the session old to patch.NewID, which usually lives in
// another partition with another primary. It runs at old's primary, in
// this order:
//
//  1. read old (a miss is session.ErrNotFound);
//  2. apply the patch to a copy and install it under the new ID at the new
//     ID's primary, which replicates it to N nodes;
//  3. under old's lock, replace old with a tombstone only if old's version
//     is still the one copied in step 2; otherwise a concurrent patch
//     landed in between, and steps 1-3 run again so it is carried over;
//  4. replicate the tombstone.
//
// So the new ID is durable before the old one stops working, a patch on
// the old ID either reaches the new one or fails with session.ErrNotFound
// after step 3, and a failure in step 2 leaves the old session untouched.
// A failure after step 2 leaves an orphan under the new ID that no client
// knows and that expires.
func (s *Store) renew(ctx context.Context, p int, old string, patch session.Patch) error {
	// Patches of old that arrive now wait for the renew (gate), so a busy
	// session cannot starve it; one already past the gate costs a retry.
	defer s.renewing.close(old)()
	for range renewAttempts {
		cur, ok, err := s.local(ctx, p, old)
		if err != nil {
			return fmt.Errorf("renew: %w", err)
		}
		if !ok || isTombstone(&cur) {
			return fmt.Errorf("renew partition %d: %w", p, session.ErrNotFound)
		}
		moved := cur.Clone()
		patch.Apply(&moved)
		if n := len(moved.AppendBinary(nil)); n > s.cfg.MaxRecordSize {
			return fmt.Errorf("renewed session of %d bytes exceeds MaxRecordSize (%d): %w", n, s.cfg.MaxRecordSize, session.ErrTooLarge)
		}
		if _, err := s.route(ctx, opInstall, routed{id: patch.NewID, rec: moved}); err != nil {
			return fmt.Errorf("renew: install the new ID: %w", err)
		}
		grave, buried, err := s.bury(ctx, old, cur.Version)
		if err != nil {
			return fmt.Errorf("renew partition %d: %w", p, err)
		}
		if buried {
			return s.replicate(ctx, p, grave.ID, anonymous(&grave))
		}
	}
	return fmt.Errorf("renew partition %d: %w after %d attempts", p, errRenewContended, renewAttempts)
}

// bury replaces id with a tombstone if its version is still version.
func (s *Store) bury(ctx context.Context, id string, version uint64) (session.Record, bool, error) {
	buried := false
	rec, err := s.engine.Update(id, func(rec *session.Record, found bool) (bool, error) {
		if !found || isTombstone(rec) {
			return false, session.ErrNotFound // destroyed meanwhile: that wins
		}
		if err := session.CheckDeadline(ctx); err != nil {
			return false, err // the new ID is an orphan that expires
		}
		if rec.Version != version {
			return false, nil
		}
		*rec, buried = tombstone(*rec, s.cfg.Now()), true
		return true, nil
	})
	return rec, buried, err
}

// gates holds back patches of sessions being renewed on this node.
type gates struct {
	mu   sync.Mutex               // guards open
	open map[string]chan struct{} // session ID -> closed when its renew ends
}

// close makes later waits on id block until the returned release runs.
// A second renew of the same ID waits for the first.
func (g *gates) close(id string) (release func()) {
	g.mu.Lock()
	for g.open[id] != nil {
		ch := g.open[id]
		g.mu.Unlock()
		<-ch
		g.mu.Lock()
	}
	if g.open == nil {
		g.open = map[string]chan struct{}{}
	}
	ch := make(chan struct{})
	g.open[id] = ch
	g.mu.Unlock()
	return func() {
		g.mu.Lock()
		delete(g.open, id)
		g.mu.Unlock()
		close(ch)
	}
}

// wait blocks while id is being renewed, or until ctx ends.
func (g *gates) wait(ctx context.Context, id string) error {
	g.mu.Lock()
	ch := g.open[id]
	g.mu.Unlock()
	if ch == nil {
		return nil
	}
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("wait for the renew of the session: %w", ctx.Err())
	}
}
