package redis

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/sessionmesh/sessionmesh/session"
	"github.com/sessionmesh/sessionmesh/stores/internal/aead"
	"github.com/sessionmesh/sessionmesh/stores/internal/storeerr"
)

// Errors returned by Store besides the session package's. Check them with
// errors.Is: they arrive wrapped with the operation and session.
var (
	// ErrIDTaken is returned by Save when the ID of a new session, or the ID
	// a session is renewed to, already names a session. IDs are 256 random
	// bits, so it means a caller reused an ID. Nothing is written.
	ErrIDTaken = errors.New("redis: session ID already in use")

	// ErrBadReply is returned when Redis answers a script with something the
	// store did not send it to answer (a foreign script under the same SHA).
	ErrBadReply = errors.New("redis: unexpected reply")

	// ErrCannotOpen is returned by Load and by a renew in Redis Cluster when
	// Config.Keys is set and a stored value does not open: sealed with a key
	// that is not in Config.Keys, stored before sealing was turned on, or
	// changed in the server. The request fails (503) rather than losing the
	// session: see the package doc.
	ErrCannotOpen = errors.New("redis: a stored value does not open with Config.Keys")
)

// Store keeps sessions in Redis, one hash per session. It is safe for
// concurrent use. Close it when done.
type Store struct {
	cfg     Config
	client  goredis.UniversalClient
	cluster bool       // the keys of one renew may be on different nodes: see renewAcrossSlots
	keys    *aead.Keys // seal values at rest; nil: stored in the clear
	log     *logSink

	closeOnce sync.Once
	closed    atomic.Bool
	closeErr  error
}

var _ session.Store = (*Store)(nil)

// New validates cfg, connects, pings the server (through the sentinels, or
// any cluster seed) and loads the scripts, so that a server that is down at
// start is reported here, naming its address, rather than on the first
// request.
func New(cfg Config) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.setDefaults()
	cfg.Addrs = slices.Clone(cfg.Addrs)
	var keys *aead.Keys
	if len(cfg.Keys) > 0 {
		var err error
		if keys, err = aead.New(cfg.Keys); err != nil {
			return nil, fmt.Errorf("redis: %w", err)
		}
		cfg.Keys = nil // the copies of the secrets live in keys only
	}
	client := goredis.NewUniversalClient(cfg.options())
	_, cluster := client.(*goredis.ClusterClient)
	s := &Store{cfg: cfg, client: client, cluster: cluster, keys: keys,
		log: &logSink{logger: cfg.Logger, secrets: []string{cfg.Password, cfg.SentinelPassword}}}
	goLog.register(s.log)
	if err := s.ping(); err != nil {
		_ = client.Close()
		goLog.unregister(s.log)
		return nil, err
	}
	return s, nil
}

func (s *Store) ping() error {
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.DialTimeout+s.cfg.Timeout)
	defer cancel()
	if err := s.client.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("redis: ping %s: %w%s", s.describe(), err, s.cfg.tlsHint(err))
	}
	// Load the scripts now (on every master of a cluster), so that the
	// first saves are one EVALSHA each rather than EVALSHA, NOSCRIPT, EVAL.
	for _, sc := range []*goredis.Script{patchScript, renewScript, touchScript, createScript} {
		if err := sc.Load(ctx, s.client).Err(); err != nil {
			return fmt.Errorf("redis: load scripts into %s: %w", s.describe(), err)
		}
	}
	return nil
}

// tlsHint names the likely cause of the two failures a TLS mismatch gives,
// whose errors do not: a TLS-only port closes a plain connection at once
// (EOF), and a plain server never answers a TLS handshake (a timeout).
func (c *Config) tlsHint(err error) string {
	var ne net.Error
	switch {
	case c.TLS == nil && (errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET)):
		return " (the server closed the connection: if it speaks only TLS on this port, configure TLS)"
	case c.TLS != nil && (errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout()):
		return " (TLS is on: a server that does not speak TLS on this port never answers the handshake)"
	}
	return ""
}

// describe names the servers for error messages.
func (s *Store) describe() string {
	addrs := strings.Join(s.cfg.Addrs, ",")
	switch {
	case s.cfg.MasterName != "":
		return fmt.Sprintf("master %q via sentinels %s", s.cfg.MasterName, addrs)
	case s.cluster:
		return "cluster " + addrs
	}
	return addrs
}

// Client returns the go-redis client the store uses, for instrumentation
// (AddHook for tracing or metrics) and health checks. Writing to session keys
// through it bypasses the store's atomicity: don't.
func (s *Store) Client() goredis.UniversalClient { return s.client }

// Close closes the connections. It is idempotent; calls after Close fail
// with session.ErrClosed.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.closed.Store(true)
		s.closeErr = s.client.Close()
		goLog.unregister(s.log)
	})
	return s.closeErr
}

// Load reads the session with one HGETALL. A token that is not a session ID
// is not looked up.
func (s *Store) Load(ctx context.Context, token string) (session.Record, bool, error) {
	if !session.ValidID(token) {
		return session.Record{}, false, nil
	}
	if s.closed.Load() {
		return session.Record{}, false, s.fail(ctx, "load", token, session.ErrClosed)
	}
	h, err := s.client.HGetAll(ctx, s.key(token)).Result()
	if err != nil {
		return session.Record{}, false, s.fail(ctx, "load", token, err)
	}
	rec, ok := parseHash(h)
	if !ok || rec.ID != token || rec.Expired(s.cfg.Now()) {
		return session.Record{}, false, nil
	}
	if err := s.openValues("load", &rec); err != nil {
		return session.Record{}, false, err
	}
	return rec, true, nil
}

// Save applies p in one round trip: a script that checks the session is
// live, applies the patch, bumps the version and sets the TTL (createScript
// for a new session, touchScript for a touch, renewScript for a renew,
// patchScript otherwise). A renew in Redis Cluster is the exception: see
// renewAcrossSlots.
func (s *Store) Save(ctx context.Context, token string, p session.Patch) (string, error) {
	if token != "" && !session.ValidID(token) {
		return "", fmt.Errorf("redis: save: malformed token: %w", session.ErrNotFound)
	}
	if err := s.checkPatch(token, &p); err != nil {
		return "", err
	}
	if s.closed.Load() {
		return "", s.fail(ctx, "save", storeerr.Named(token, p), session.ErrClosed)
	}
	switch {
	case token == "":
		return storeerr.TokenOr(p.NewID, s.create(ctx, p))
	case p.NewID != "" && s.cluster:
		return storeerr.TokenOr(p.NewID, s.renewAcrossSlots(ctx, token, p))
	case p.IsTouch():
		return storeerr.TokenOr(token, s.touch(ctx, token, p))
	}
	return s.patch(ctx, token, p)
}

// epoch is the earliest Patch.Now (and Patch.Expires) accepted: the scripts compare times as
// unsigned decimal text.
var epoch = time.Unix(0, 0)

func (s *Store) checkPatch(token string, p *session.Patch) error {
	switch {
	case !p.Now.After(epoch):
		return fmt.Errorf("redis: save: Patch.Now %v is not after 1970", p.Now)
	case !p.Expires.IsZero() && !p.Expires.After(epoch):
		return fmt.Errorf("redis: save: Patch.Expires %v is not after 1970", p.Expires)
	case p.Idle <= 0:
		return fmt.Errorf("redis: save: Patch.Idle %v must be positive", p.Idle)
	case token == "" && p.NewID == "":
		return errors.New("redis: save: a new session needs Patch.NewID")
	case p.NewID != "" && !session.ValidID(p.NewID):
		return fmt.Errorf("redis: save: Patch.NewID %.50q is not a session ID", p.NewID)
	}
	// Keys that are set are all in the result: refuse without I/O when they
	// alone are too many bytes.
	if n := valuesSize(p.Set); n > s.cfg.MaxSessionBytes {
		return s.tooLarge("save", storeerr.Named(token, *p), n)
	}
	return nil
}

// create writes a new session; the record is built here with Patch.Apply.
func (s *Store) create(ctx context.Context, p session.Patch) error {
	var rec session.Record
	p.Apply(&rec)
	return s.put(ctx, "create", &rec, p.Now)
}

// put writes rec as a new key with a TTL running to its deadline.
func (s *Store) put(ctx context.Context, op string, rec *session.Record, now time.Time) error {
	stored := *rec // its values as stored: sealed when sealing is on
	if s.keys != nil {
		stored.Values = make(map[string][]byte, len(rec.Values))
		for k, v := range rec.Values {
			stored.Values[k] = s.seal(k, v)
		}
	}
	if n := valuesSize(stored.Values); n > s.cfg.MaxSessionBytes {
		return s.tooLarge(op, rec.ID, n)
	}
	args := append([]any{ttlMillis(rec.Deadline().Sub(now))}, hashArgs(&stored)...)
	keys := []string{s.key(rec.ID)}
	if set := s.principalSet(session.PrincipalOf(rec.Values)); set != "" {
		args = append(args, fieldPrincipal, set)
		keys = append(keys, set)
	}
	ok, err := createScript.Run(ctx, s.client, keys, args...).Int()
	if err != nil {
		return s.fail(ctx, op, rec.ID, err)
	}
	if ok != 1 {
		return fmt.Errorf("redis: %s session %s: %w", op, storeerr.Short(rec.ID), ErrIDTaken)
	}
	return nil
}

func (s *Store) touch(ctx context.Context, token string, p session.Patch) error {
	ok, err := touchScript.Run(ctx, s.client, []string{s.key(token)},
		nanos(p.Now), nanos(p.Now.Add(p.Idle)), ttlMillis(p.Idle)).Int()
	if err != nil {
		return s.fail(ctx, "touch", token, err)
	}
	if ok != 1 {
		return fmt.Errorf("redis: touch session %s: %w", storeerr.Short(token), session.ErrNotFound)
	}
	return nil
}

// patch runs patchScript, or renewScript with p.NewID set (single server
// and Sentinel only).
func (s *Store) patch(ctx context.Context, token string, p session.Patch) (string, error) {
	script, keys, dst := patchScript, []string{s.key(token)}, token
	if p.NewID != "" {
		script, dst = renewScript, p.NewID
		keys = append(keys, s.key(dst))
	}
	res, err := script.Run(ctx, s.client, keys, s.patchArgs(&p)...).Int64Slice()
	if err != nil {
		return "", s.fail(ctx, "save", token, err)
	}
	if len(res) != 2 {
		return "", fmt.Errorf("redis: save session %s: %w %v", storeerr.Short(token), ErrBadReply, res)
	}
	switch res[0] {
	case resultApplied:
		return dst, nil
	case resultMissing:
		return "", fmt.Errorf("redis: save session %s: %w", storeerr.Short(token), session.ErrNotFound)
	case resultTooLarge:
		return "", s.tooLarge("save", token, int(res[1]))
	case resultTaken:
		return "", fmt.Errorf("redis: renew session %s: %w", storeerr.Short(token), ErrIDTaken)
	}
	return "", fmt.Errorf("redis: save session %s: %w %v", storeerr.Short(token), ErrBadReply, res)
}

// patchArgs lays p out as the ARGV of patchScript and renewScript, its
// values sealed when sealing is on.
func (s *Store) patchArgs(p *session.Patch) []any {
	clear := "0"
	if p.Clear {
		clear = "1"
	}
	expires := "" // keep the stored one
	if !p.Expires.IsZero() {
		expires = nanos(p.Expires)
	}
	args := make([]any, 0, 9+2*len(p.Set)+len(p.Delete))
	args = append(args, nanos(p.Now), nanos(p.Now.Add(p.Idle)), ttlMillis(p.Idle),
		s.cfg.MaxSessionBytes, clear, p.NewID, expires, len(p.Set), s.principalChange(p))
	for k, v := range p.Set {
		args = append(args, valuePrefix+k, s.seal(k, v))
	}
	for _, k := range p.Delete {
		args = append(args, valuePrefix+k)
	}
	return args
}

// renewAcrossSlots renews a session in Redis Cluster. The old and the new
// key hash to different slots, usually on different nodes, and no script may
// touch both (a shared hash tag would put every session in one slot and undo
// the cluster's distribution). So it copies, then deletes:
//
//  1. HGETALL the old key; a missing or expired session fails with
//     ErrNotFound.
//  2. Apply the patch here and create the new key (createScript refuses an
//     existing one), with the TTL of the session's deadline.
//  3. DEL the old key.
//
// The window: between steps 1 and 3 both IDs may load, and a concurrent
// patch to the old ID succeeds and is then dropped with the old key, which
// is the contract's rule that Renew wins over a concurrent patch. If step 2
// fails, nothing changed. If step 3 fails, Save reports the error, the
// client is never told the new ID, the old session stays as it was (without
// this patch, so a login that renews does not take effect on the old ID) and
// the new key expires unused.
func (s *Store) renewAcrossSlots(ctx context.Context, token string, p session.Patch) error {
	h, err := s.client.HGetAll(ctx, s.key(token)).Result()
	if err != nil {
		return s.fail(ctx, "renew", token, err)
	}
	rec, ok := parseHash(h)
	if !ok || rec.ID != token || rec.Expired(p.Now) {
		return fmt.Errorf("redis: renew session %s: %w", storeerr.Short(token), session.ErrNotFound)
	}
	if err := s.openValues("renew", &rec); err != nil {
		return err
	}
	p.Apply(&rec)
	if err := s.put(ctx, "renew", &rec, p.Now); err != nil {
		return err
	}
	if err := s.client.Del(ctx, s.key(token)).Err(); err != nil {
		return s.fail(ctx, "renew: delete the old key of", token, err)
	}
	return nil
}

// Delete removes the session in one round trip: a script that deletes it
// and takes it out of its principal's set (one DEL in Redis Cluster, which
// keeps no index). A token that is not a session ID names nothing and is
// not sent.
func (s *Store) Delete(ctx context.Context, token string) error {
	if !session.ValidID(token) {
		return nil
	}
	if s.closed.Load() {
		return s.fail(ctx, "delete", token, session.ErrClosed)
	}
	var err error
	if s.cluster {
		err = s.client.Del(ctx, s.key(token)).Err()
	} else {
		err = deleteScript.Run(ctx, s.client, []string{s.key(token)}).Err()
	}
	if err != nil && !errors.Is(err, goredis.Nil) {
		return s.fail(ctx, "delete", token, err)
	}
	return nil
}

func (s *Store) key(id string) string { return s.cfg.Prefix + id }

// seal returns the value of session key k as stored: sealed with the first
// key, bound to k, when sealing is on.
func (s *Store) seal(k string, v []byte) []byte {
	if s.keys == nil {
		return v
	}
	return s.keys.Seal(make([]byte, 0, len(v)+s.keys.Overhead()), v, sealedFor(k))
}

// openValues opens rec's values in place when sealing is on. Its error
// names the session and the key whose value does not open, never a value.
func (s *Store) openValues(op string, rec *session.Record) error {
	if s.keys == nil {
		return nil
	}
	for k, v := range rec.Values {
		plain, err := s.keys.Open(v, sealedFor(k))
		if err != nil {
			return fmt.Errorf("redis: %s session %s: key %.64q: %w: %w", op, storeerr.Short(rec.ID), k, ErrCannotOpen, err)
		}
		rec.Values[k] = plain
	}
	return nil
}

// sealedFor is the associated data of a sealed value: the store, so that an
// envelope of another store or of the cookie store with the same key does
// not open here, and the session key's name, so that a value moved to
// another key does not open there. Not the session's ID: renewScript moves
// the values to the new ID inside Redis, where they cannot be re-sealed.
func sealedFor(k string) []byte { return []byte("redis\x00" + k) }

func (s *Store) tooLarge(op, id string, n int) error {
	return fmt.Errorf("redis: %s session %s: %d bytes of keys and values, limit %d: %w",
		op, storeerr.Short(id), n, s.cfg.MaxSessionBytes, session.ErrTooLarge)
}

// fail wraps an error of the server or the connection, naming the servers.
// A call cut short by its context wraps ctx's error too, so that
// errors.Is(err, context.DeadlineExceeded) holds whichever of the two the
// client saw first.
func (s *Store) fail(ctx context.Context, op, id string, err error) error {
	return s.failTo(ctx, op+" session "+storeerr.Short(id), err)
}

// failTo is fail for what the store failed to do.
func (s *Store) failTo(ctx context.Context, what string, err error) error {
	if errors.Is(err, goredis.ErrClosed) {
		err = session.ErrClosed
	}
	if cerr := ctxErr(ctx); cerr != nil && !errors.Is(err, cerr) {
		return fmt.Errorf("redis: %s on %s: %w (%w)", what, s.describe(), cerr, err)
	}
	return fmt.Errorf("redis: %s on %s: %w", what, s.describe(), err)
}

// ctxErr is ctx.Err(), or DeadlineExceeded once ctx's deadline has passed
// even if ctx's timer has not fired yet: the socket deadline go-redis sets
// from ctx can expire a moment before it.
func ctxErr(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if d, ok := ctx.Deadline(); ok && !time.Now().Before(d) {
		return context.DeadlineExceeded
	}
	return nil
}
