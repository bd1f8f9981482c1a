package memcache

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bradfitz/gomemcache/memcache"

	"github.com/sessionmesh/sessionmesh/session"
	"github.com/sessionmesh/sessionmesh/stores/internal/aead"
	"github.com/sessionmesh/sessionmesh/stores/internal/storeerr"
)

// Errors returned by Store besides the session package's. Check them with
// errors.Is: they arrive wrapped with the operation and session.
var (
	// ErrConflict is returned by Save when other requests changed the
	// session between every read and write of Config.CASRetries tries.
	// Nothing of this patch was written.
	ErrConflict = errors.New("memcache: session changed concurrently on every try (CAS retries exhausted)")

	// ErrIDTaken is returned by Save when the ID of a new session, or the ID
	// a session is renewed to, already names a session. IDs are 256 random
	// bits, so it means a caller reused an ID. Nothing is written.
	ErrIDTaken = errors.New("memcache: session ID already in use")

	// ErrCannotOpen is returned by Load and Save when Config.Keys is set and
	// a stored record does not open: sealed with a key that is not in
	// Config.Keys, stored before sealing was turned on, or changed in the
	// server. The request fails (503) rather than losing the session: see
	// the package doc.
	ErrCannotOpen = errors.New("memcache: the stored session does not open with Config.Keys")
)

// Store keeps sessions in memcached, one item per session. It is safe for
// concurrent use. Close it when done.
type Store struct {
	cfg    Config
	ring   *ring // which server holds which session
	client *memcache.Client
	keys   *aead.Keys       // seal records at rest; nil: stored in the clear
	wall   func() time.Time // the real clock: memcached compares absolute expirations with its own

	locks sessionLocks // queues the saves of one session in this process

	failed []atomic.Int64 // per server (ring index): when a call to it last failed, Unix ns; see NewID

	// beforeCAS, when set by a test, runs between the gets and the cas of
	// a patch: the place where a concurrent writer causes a conflict.
	beforeCAS func()

	mu     sync.Mutex // guards closed and calls.Add, so Close's Wait sees every call
	closed bool
	calls  sync.WaitGroup // client calls in flight, some in goroutines (see do)
}

var _ session.Store = (*Store)(nil)

// New validates cfg, resolves the servers, lays out the ring and pings
// every server, so that a server down at start is reported here, naming
// it, rather than on the first request.
func New(cfg Config) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.setDefaults()
	cfg.Servers = slices.Clone(cfg.Servers)
	r, err := newRing(cfg.Servers)
	if err != nil {
		return nil, fmt.Errorf("memcache: servers %s: %w", strings.Join(cfg.Servers, ","), err)
	}
	var keys *aead.Keys
	if len(cfg.Keys) > 0 {
		if keys, err = aead.New(cfg.Keys); err != nil {
			return nil, fmt.Errorf("memcache: %w", err)
		}
		cfg.Keys = nil // the copies of the secrets live in keys only
	}
	client := memcache.NewFromSelector(r)
	client.Timeout = cfg.Timeout
	client.MaxIdleConns = cfg.MaxIdleConns
	if err := client.Ping(); err != nil {
		_ = client.Close()
		return nil, fmt.Errorf("memcache: ping %s: %w", strings.Join(cfg.Servers, ","), err)
	}
	return &Store{cfg: cfg, ring: r, client: client, keys: keys, wall: time.Now,
		failed: make([]atomic.Int64, len(cfg.Servers))}, nil
}

// Close waits for calls in flight, then closes the idle connections. It is
// idempotent; calls after Close fail with session.ErrClosed.
func (s *Store) Close() error {
	s.mu.Lock()
	already := s.closed
	s.closed = true
	s.mu.Unlock()
	if already {
		return nil
	}
	s.calls.Wait()
	return s.client.Close()
}

// Load reads the session's item with one get. A token that is not a session
// ID is not looked up.
func (s *Store) Load(ctx context.Context, token string) (session.Record, bool, error) {
	if !session.ValidID(token) {
		return session.Record{}, false, nil
	}
	_, rec, err := s.fetch(ctx, token)
	if errors.Is(err, session.ErrNotFound) {
		return session.Record{}, false, nil
	}
	if err != nil || rec.Expired(s.cfg.Now()) {
		return session.Record{}, false, err
	}
	return rec, true, nil
}

// Save applies p: Add for a new session, a gets/CAS loop for a patch or a
// touch, copy-then-delete for a renew. Saves of one session made through
// this Store wait for each other (see sessionLocks); the CAS loop handles
// the other processes.
func (s *Store) Save(ctx context.Context, token string, p session.Patch) (string, error) {
	if token != "" && !session.ValidID(token) {
		return "", fmt.Errorf("memcache: save: malformed token: %w", session.ErrNotFound)
	}
	if err := s.checkPatch(token, &p); err != nil {
		return "", err
	}
	if token == "" {
		return storeerr.TokenOr(p.NewID, s.create(ctx, p))
	}
	unlock, err := s.locks.lock(ctx, token)
	if err != nil {
		return "", s.fail(ctx, "save", token, err)
	}
	defer unlock()
	if p.NewID != "" {
		return storeerr.TokenOr(p.NewID, s.renew(ctx, token, p))
	}
	return storeerr.TokenOr(token, s.patch(ctx, token, p))
}

func (s *Store) checkPatch(token string, p *session.Patch) error {
	switch {
	case p.Now.IsZero():
		return errors.New("memcache: save: Patch.Now is not set")
	case p.Idle <= 0:
		return fmt.Errorf("memcache: save: Patch.Idle %v must be positive", p.Idle)
	case token == "" && p.NewID == "":
		return errors.New("memcache: save: a new session needs Patch.NewID")
	case p.NewID != "" && !session.ValidID(p.NewID):
		return fmt.Errorf("memcache: save: Patch.NewID %.50q is not a session ID", p.NewID)
	}
	// Keys that are set are all in the result: refuse without I/O when they
	// alone are too many bytes.
	n := 0
	for k, v := range p.Set {
		n += len(k) + len(v)
	}
	if n > s.cfg.MaxSessionBytes {
		return s.tooLarge("save", storeerr.Named(token, *p), n)
	}
	return nil
}

// create adds a new session; Add fails if the key exists.
func (s *Store) create(ctx context.Context, p session.Patch) error {
	var rec session.Record
	p.Apply(&rec)
	item, err := s.item(&rec, p.Now, "create")
	if err != nil {
		return err
	}
	return s.add(ctx, item, "create")
}

// patch applies p with gets and cas, retrying with a random backoff while
// other requests change the session in between.
func (s *Store) patch(ctx context.Context, token string, p session.Patch) error {
	for try := range s.cfg.CASRetries {
		err := s.patchOnce(ctx, token, p)
		if !errors.Is(err, memcache.ErrCASConflict) {
			return err
		}
		if err := backoff(ctx, try); err != nil {
			return s.fail(ctx, "save", token, err)
		}
	}
	return fmt.Errorf("memcache: save session %s: %d tries: %w", storeerr.Short(token), s.cfg.CASRetries, ErrConflict)
}

// patchOnce is one gets/apply/cas round. It returns memcache.ErrCASConflict,
// unwrapped, when the session changed since the gets.
func (s *Store) patchOnce(ctx context.Context, token string, p session.Patch) error {
	item, rec, err := s.fetch(ctx, token)
	if err != nil {
		return err
	}
	if rec.Expired(p.Now) {
		return fmt.Errorf("memcache: save session %s: expired: %w", storeerr.Short(token), session.ErrNotFound)
	}
	p.Apply(&rec)
	next, err := s.item(&rec, p.Now, "save")
	if err != nil {
		return err
	}
	next.CasID = item.CasID
	if s.beforeCAS != nil {
		s.beforeCAS()
	}
	err = s.do(ctx, func() error { return s.client.CompareAndSwap(next) })
	switch {
	case errors.Is(err, memcache.ErrCASConflict):
		return err
	case errors.Is(err, memcache.ErrCacheMiss), errors.Is(err, memcache.ErrNotStored):
		// Deleted (Destroy, Renew) or evicted since the gets.
		return fmt.Errorf("memcache: save session %s: %w", storeerr.Short(token), session.ErrNotFound)
	case err != nil:
		return s.fail(ctx, "save", token, err)
	}
	return nil
}

// renew moves the session to p.NewID. memcached has no multi-key atomic
// step, so it copies, then deletes:
//
//  1. get the old item; a missing or expired session fails with ErrNotFound.
//  2. Apply the patch here and add the new item (add refuses an existing
//     key).
//  3. delete the old item.
//
// The window: between steps 1 and 3 a concurrent patch to the old ID
// succeeds and is then dropped with the old item, which is the contract's
// rule that Renew wins over a concurrent patch. If step 2 fails, nothing
// changed. If step 3 fails, Save reports the error, the client is never told
// the new ID, the old session stays as it was (without this patch, so a login
// that renews does not take effect on the old ID) and the new item expires
// unused.
func (s *Store) renew(ctx context.Context, token string, p session.Patch) error {
	_, rec, err := s.fetch(ctx, token)
	if err != nil {
		return err
	}
	if rec.Expired(p.Now) {
		return fmt.Errorf("memcache: renew session %s: expired: %w", storeerr.Short(token), session.ErrNotFound)
	}
	p.Apply(&rec)
	item, err := s.item(&rec, p.Now, "renew")
	if err != nil {
		return err
	}
	if err := s.add(ctx, item, "renew"); err != nil {
		return err
	}
	if err := s.remove(ctx, token); err != nil {
		return s.fail(ctx, "renew: delete the old item of", token, err)
	}
	return nil
}

// Delete removes the session. A token that is not a session ID names
// nothing and is not sent.
func (s *Store) Delete(ctx context.Context, token string) error {
	if !session.ValidID(token) {
		return nil
	}
	if err := s.remove(ctx, token); err != nil {
		return s.fail(ctx, "delete", token, err)
	}
	return nil
}

func (s *Store) remove(ctx context.Context, id string) error {
	err := s.do(ctx, func() error { return s.client.Delete(s.key(id)) })
	if errors.Is(err, memcache.ErrCacheMiss) {
		return nil
	}
	return err
}

// fetch gets the session's item, opens it when sealed and decodes it. A
// missing item, and one that does not decode to this session (a foreign or
// corrupt value), give an error wrapping session.ErrNotFound; a sealed one
// that does not open, ErrCannotOpen. Expiry is the caller's to check.
func (s *Store) fetch(ctx context.Context, id string) (*memcache.Item, session.Record, error) {
	var item *memcache.Item
	err := s.do(ctx, func() (err error) {
		item, err = s.client.Get(s.key(id))
		return err
	})
	var rec session.Record
	switch {
	case errors.Is(err, memcache.ErrCacheMiss):
		return nil, rec, fmt.Errorf("memcache: session %s: %w", storeerr.Short(id), session.ErrNotFound)
	case err != nil:
		return nil, rec, s.fail(ctx, "load", id, err)
	}
	value, err := s.open(id, item.Value)
	if err != nil {
		return nil, rec, err
	}
	if rec.UnmarshalBinary(value) != nil || rec.ID != id {
		return nil, session.Record{}, fmt.Errorf("memcache: session %s: not a session record: %w", storeerr.Short(id), session.ErrNotFound)
	}
	return item, rec, nil
}

// item encodes rec as the item to write, with an expiration at its deadline.
func (s *Store) item(rec *session.Record, now time.Time, op string) (*memcache.Item, error) {
	value := s.seal(rec)
	if len(value) > s.cfg.MaxSessionBytes {
		return nil, s.tooLarge(op, rec.ID, len(value))
	}
	exp := expiration(rec.Deadline().Sub(now), s.wall())
	return &memcache.Item{Key: s.key(rec.ID), Value: value, Expiration: exp}, nil
}

// seal encodes rec, sealed with the first key, bound to its ID, when
// sealing is on.
func (s *Store) seal(rec *session.Record) []byte {
	if s.keys == nil {
		value, _ := rec.MarshalBinary() // never fails
		return value
	}
	plain := rec.AppendBinary(make([]byte, 0, rec.Size()))
	return s.keys.Seal(make([]byte, 0, len(plain)+s.keys.Overhead()), plain, sealedFor(rec.ID))
}

// open opens the value of session id's item when sealing is on. Its error
// names the session and why, never the value.
func (s *Store) open(id string, value []byte) ([]byte, error) {
	if s.keys == nil {
		return value, nil
	}
	plain, err := s.keys.Open(value, sealedFor(id))
	if err != nil {
		return nil, fmt.Errorf("memcache: session %s: %w: %w", storeerr.Short(id), ErrCannotOpen, err)
	}
	return plain, nil
}

// sealedFor is the associated data of a sealed record: the store, so that
// an envelope of another store or of the cookie store with the same key
// does not open here, and the session's ID, so that a record copied to
// another session's item does not open there.
func sealedFor(id string) []byte { return []byte("memcache\x00" + id) }

// add writes a new item; an existing key is ErrIDTaken.
func (s *Store) add(ctx context.Context, item *memcache.Item, op string) error {
	id := item.Key[len(s.cfg.Prefix):]
	err := s.do(ctx, func() error { return s.client.Add(item) })
	switch {
	case errors.Is(err, memcache.ErrNotStored):
		return fmt.Errorf("memcache: %s session %s: %w", op, storeerr.Short(id), ErrIDTaken)
	case err != nil:
		return s.fail(ctx, op, id, err)
	}
	return nil
}

// do runs f, one gomemcache call, bounded by ctx as well as by the client's
// socket Timeout. gomemcache takes no context, so when ctx has a deadline
// that comes before the socket timeouts would end f (a dial and an exchange,
// 2*Timeout), f runs in a goroutine and do returns at the deadline; f then
// ends by itself within Timeout, and Close waits for it. A write abandoned
// that way may still land, as with any request whose answer was lost.
// Otherwise f runs on the caller's goroutine: handing every call to another
// goroutine doubled the cost of a load+save in the benchmark, and a context
// that is only cancelled (the client went away) is then noticed when f
// returns, within the socket timeouts.
func (s *Store) do(ctx context.Context, f func() error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return session.ErrClosed
	}
	s.calls.Add(1)
	s.mu.Unlock()
	if d, ok := ctx.Deadline(); !ok || time.Until(d) >= 2*s.cfg.Timeout {
		defer s.calls.Done()
		return f()
	}
	done := make(chan error, 1)
	go func() {
		defer s.calls.Done()
		done <- f()
	}()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// backoff waits a random time below 1ms·2^try (at most 64ms), so that
// requests racing on one session stop colliding, or until ctx is done.
func backoff(ctx context.Context, try int) error {
	d := time.Duration(rand.Int64N(int64(time.Millisecond) << min(try, 6)))
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// maxRelative is the longest expiration memcached takes as relative
// seconds: it reads anything larger as an absolute Unix time.
const maxRelative = 30 * 24 * 60 * 60

// expiration converts a TTL to memcached's exptime: whole seconds rounded up
// when at most 30 days, else the absolute Unix time wall+ttl (clamped to
// int32, the protocol's range). Never 0, which would mean "never expires".
func expiration(ttl time.Duration, wall time.Time) int32 {
	secs := max(int64((ttl+time.Second-1)/time.Second), 1)
	if secs <= maxRelative {
		return int32(secs)
	}
	return int32(min(wall.Unix()+secs, math.MaxInt32))
}

// key is the item key of session id. It is always a valid memcached key
// (Validate checks the prefix, ValidID the ID), and no two IDs give one key:
// ValidID accepts one spelling per ID.
func (s *Store) key(id string) string { return s.cfg.Prefix + id }

func (s *Store) tooLarge(op, id string, n int) error {
	return fmt.Errorf("memcache: %s session %s: %d bytes encoded, limit %d: %w",
		op, storeerr.Short(id), n, s.cfg.MaxSessionBytes, session.ErrTooLarge)
}

// fail wraps an error of the server or the connection, naming the server
// that holds the session. memcached's own size limit becomes
// session.ErrTooLarge: gomemcache reports it only as an unexpected response
// line, so its text is matched. A call cut short by its context wraps ctx's
// error. Any other error, but ErrClosed, marks the server failed (see
// NewID).
func (s *Store) fail(ctx context.Context, op, id string, err error) error {
	server := s.ring.server(s.key(id))
	where := s.ring.addrs[server].String()
	if strings.Contains(err.Error(), "SERVER_ERROR object too large") {
		return fmt.Errorf("memcache: %s session %s: %s refused the item: %w", op, storeerr.Short(id), where, session.ErrTooLarge)
	}
	if cerr := ctx.Err(); cerr != nil {
		if !errors.Is(err, cerr) {
			err = fmt.Errorf("%w (%w)", cerr, err)
		}
		// Cut short by the caller: that says nothing of the server.
		return fmt.Errorf("memcache: %s session %s on %s: %w", op, storeerr.Short(id), where, err)
	}
	if !errors.Is(err, session.ErrClosed) {
		s.markFailed(server)
	}
	return fmt.Errorf("memcache: %s session %s on %s: %w", op, storeerr.Short(id), where, err)
}
