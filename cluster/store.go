package cluster

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/golang/groupcache/singleflight"
	"github.com/hashicorp/memberlist"
	"github.com/sessionmesh/sessionmesh/cluster/peer"
	"github.com/sessionmesh/sessionmesh/internal/engine"
	"github.com/sessionmesh/sessionmesh/session"
)

// Store is one node of the cluster and a session.Store: any node serves any
// session, routing it to the partition's primary over the peer transport.
// It is safe for concurrent use.
type Store struct {
	cfg      Config
	name     string
	peerAddr string // advertised peer address of this node
	log      *slog.Logger

	engine   *engine.Map
	members  *membership
	server   *peer.Server
	client   *peer.Client
	caller   Caller
	loads    singleflight.Group // collapses concurrent remote loads of one session
	hints    hints
	down     downs // members whose connection just failed (downs.go)
	renewing gates // sessions being renewed at this node

	onRemoval atomic.Pointer[func(session.Removal)] // OnRemoval's hook (events.go)

	holdings  *holdings     // partitions this node holds completely (holdings.go)
	receivers receivers     // nodes pulling partitions from this one (receivers.go)
	grantor   grantor       // read leases this node gave its backups (leases.go)
	leases    leases        // read leases this node holds from primaries (leases.go)
	kick      chan struct{} // wakes the mover
	conflicts atomic.Uint64 // conflicting copies resolved by merge (version.go)
	evictions atomic.Uint64 // spare sessions evicted to respect the bounds (bounds.go)
	refused   atomic.Uint64 // new sessions refused at the bounds (bounds.go)
	reported  boundsReport  // evictions and refused as last logged (reportBounds)
	counters  counters      // for Stats (counters.go)
	serving   inflight      // routed requests this node is serving (Drain waits)
	calls     inflight      // Load, Save and Delete calls in progress (halt waits)
	mono      func() time.Duration
	lastBeat  atomic.Int64            // mono() at the last heartbeat (pause.go)
	contacted atomic.Int64            // mono() at the last answer of another member (pause.go)
	anyAnswer atomic.Bool             // another member has answered since the start
	written   []atomic.Int64          // per partition, mono() at its last write here (entropy.go)
	tally     atomic.Pointer[tally]   // sessions counted by the last full scan (Status)
	digests   atomic.Pointer[digests] // partition digests of the last anti-entropy round
	pause     pause
	restored  []session.Record // loaded from the snapshot, until pushed to their owners (moveLoop only; snapshot.go)

	snapMu     sync.Mutex // guards snapLoaded and the snapshot file between a start's push and a drain
	snapLoaded bool       // Config.Snapshot is the file loaded at start, not yet removed

	joined   atomic.Bool // has been a member together with another node (lifecycle.go)
	alone    atomic.Bool // has no seeds, or started a cluster of its own (lifecycle.go)
	ready    atomic.Bool // pulled its partitions and announced (Ready)
	draining atomic.Bool
	drained  chan struct{} // closed when the hand-off of Drain has ended
	closed   atomic.Bool
	keysMu   sync.Mutex               // serializes SetSecrets (keys.go)
	secrets  atomic.Pointer[[][]byte] // the last SetSecrets' list; nil: Config's (keys.go)
	stopOnce sync.Once
	stop     chan struct{}
	bg       context.Context // background work; canceled by Close
	cancelBg context.CancelFunc
	wg       sync.WaitGroup
}

// New starts a node: it binds the gossip and peer ports, joins the seeds
// (failing to reach them is logged, not fatal: rejoin keeps trying) and
// serves until Close. The node is a member at once and routes requests
// to the owners of their sessions, but it owns no partition until it has
// pulled the ones it will own from their current owners; then it becomes
// Ready (a node that finds no other member is ready at once: it starts a
// cluster). A node reachable from other machines without a Secret is
// refused with ErrNoSecret.
func New(cfg Config) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	if len(cfg.secrets()) == 0 {
		cfg.Logger.Warn("cluster: no secret (Insecure): any local process can read and forge every session; never run this way outside a test", "bind", cfg.Bind)
	}
	s, err := newStore(cfg, newNodeName(cfg.Name))
	if err != nil {
		return nil, err
	}
	if err := s.loadSnapshot(); err != nil {
		s.engine.Close()
		s.cancelBg()
		return nil, err
	}
	var undo []func()
	if err := s.start(&undo); err != nil {
		for i := len(undo) - 1; i >= 0; i-- {
			undo[i]()
		}
		s.engine.Close()
		s.cancelBg()
		return nil, err
	}
	s.alone.Store(len(cfg.Join) == 0)
	s.members.join(cfg.Join)
	s.run()
	return s, nil
}

// newStore builds node name from cfg (validated, with defaults) without
// sockets, gossip or loops: a member of nobody, with an empty table. New
// starts the rest; a test can instead give it a table and a Caller and
// drive one step at a time (beat, pullRound, antiEntropy, a handler), as
// memberlist's tests call m.probe(). Only the engine's sweeper runs.
func newStore(cfg Config, name string) (*Store, error) {
	s := &Store{cfg: cfg, name: name, stop: make(chan struct{}), kick: make(chan struct{}, 1), drained: make(chan struct{})}
	var err error
	// No bound in the engine: which session may go is the primary's
	// decision (admit), and a replica keeps the copies it is sent.
	if s.engine, err = engine.New(engine.Config{MaxSessionBytes: cfg.MaxRecordSize, MaxBytes: -1, Now: cfg.Now}); err != nil {
		return nil, fmt.Errorf("cluster: engine: %w", err)
	}
	s.bg, s.cancelBg = context.WithCancel(context.Background())
	s.log = cfg.Logger.With("node", s.name)
	s.hints.byOwner = map[string]map[string]struct{}{}
	s.leases.init()
	s.holdings = newHoldings(cfg.Partitions)
	s.written = make([]atomic.Int64, cfg.Partitions)
	start := time.Now()
	s.mono = func() time.Duration { return time.Since(start) }
	s.members = newMembership(cfg, name, s.mono, s.onTable, s.contact)
	s.members.answers = s.answers
	return s, nil
}

// answers reports whether member m answers a peer call (opSeen) within
// CallTimeout: a member memberlist declared dead that still does is kept
// (membership.expire).
func (s *Store) answers(m Member) bool {
	_, err := s.call(s.bg, m.Addr, opSeen, (&seenReq{name: s.name}).marshal())
	return err == nil
}

// run starts the node's loops, each tracked by wg until Close.
func (s *Store) run() {
	s.goLoop(s.cfg.RejoinInterval, func() {
		s.members.rejoin()
		s.checkJoin()
	})
	s.goLoop(s.cfg.RejoinInterval, s.handBackHints)
	s.goLoop(s.cfg.ProbeInterval/2, s.beat)
	s.goLoop(s.cfg.AntiEntropyInterval, s.antiEntropy)
	if s.cfg.ReadLease > 0 {
		s.goLoop(s.cfg.ReadLease/3, s.renewLeases)
	}
	s.wg.Add(1)
	go s.moveLoop()
}

// onTable runs at every table change, before the table is published
// (membership.onChange): partitions that change hands stop being held
// before any request can be routed by the new table.
func (s *Store) onTable(old, next *Table) {
	s.holdings.update(old, next, s.name, ownedBy(next, s.name))
	if s.cfg.ReadLease > 0 {
		for name := range freshMembers(old, next) {
			s.grantor.returned(next, name, s.name)
		}
		s.grantor.promoted(old, next, s.name)
	}
	if next.hasOthers(s.name) {
		s.joined.Store(true)
	}
	if !s.anyAnswer.Load() && len(old.Members()) <= 1 && len(next.Members()) > 1 {
		// The first others: this node was alone, not cut off (pause.go).
		s.contacted.Store(int64(s.mono()))
	}
	for _, m := range old.Members() {
		if _, ok := next.Member(m.Name); !ok {
			s.receivers.forget(m.Name) // a puller that died needs no copies
			s.grantor.forget(m.Name)
		}
	}
}

// start brings up the listeners, gossip and the peer server, recording
// how to undo each step if a later one fails.
func (s *Store) start(undo *[]func()) error {
	ln, err := net.Listen("tcp", peerBind(&s.cfg))
	if err != nil {
		return fmt.Errorf("cluster: listen for peers on %s: %w", peerBind(&s.cfg), err)
	}
	*undo = append(*undo, func() { ln.Close() })
	adv, tr, err := s.gossipTransport()
	if err != nil {
		return err
	}
	*undo = append(*undo, func() { tr.Shutdown() })
	s.peerAddr = peerAdvertise(adv, ln)
	if err := s.members.start(tr, adv, s.peerAddr, deriveKeys(s.cfg.secrets(), "gossip")); err != nil {
		return err
	}
	*undo = append(*undo, func() { s.members.shutdown() })
	return s.startPeer(ln, undo)
}

// gossipTransport binds memberlist's transport, wrapped by WrapTransport.
func (s *Store) gossipTransport() (advertise, memberlist.Transport, error) {
	nt, err := newGossipTransport(&s.cfg, s.members.gossipLogger())
	if err != nil {
		return advertise{}, nil, err
	}
	adv, err := resolveAdvertise(&s.cfg, nt)
	if err == nil {
		err = checkAdvertised(&s.cfg, adv)
	}
	if err != nil {
		nt.Shutdown()
		return advertise{}, nil, err
	}
	var tr memberlist.Transport = nt
	if s.cfg.WrapTransport != nil {
		tr = s.cfg.WrapTransport(nt)
	}
	return adv, tr, nil
}

func (s *Store) startPeer(ln net.Listener, undo *[]func()) error {
	pc := peer.Config{
		Name:    s.name, // handlers accept what names a sender from its own connection only (checkSender)
		Secrets: deriveKeys(s.cfg.secrets(), "peer"),
		TLS:     s.cfg.TLS,
		// With TLS, a peer's certificate must name the member it says it is.
		VerifyName: verifyMember,
		MaxFrame:   2*s.cfg.MaxRecordSize + 64<<10, // a patch and a record, with room
		Inline:     s.inline,
		Logger:     s.log,
	}
	var err error
	if s.server, err = peer.NewServer(ln, pc, s.handle); err != nil {
		return fmt.Errorf("cluster: peer server: %w", err)
	}
	*undo = append(*undo, func() { s.server.Close() })
	if s.client, err = peer.NewClient(pc); err != nil {
		return fmt.Errorf("cluster: peer client: %w", err)
	}
	s.caller = s.client
	if s.cfg.WrapCaller != nil {
		s.caller = s.cfg.WrapCaller(s.client)
	}
	return nil
}

// Name returns this node's name (Config.Name + "-" + boot ID).
func (s *Store) Name() string { return s.name }

// Addr returns the peer address this node advertises.
func (s *Store) Addr() string { return s.peerAddr }

// Table returns this node's current partition table.
func (s *Store) Table() *Table { return s.members.Table() }

// TableChanged returns a channel that is closed at the next change of the
// partition table.
func (s *Store) TableChanged() <-chan struct{} { return s.members.Changed() }

// Owner returns the name of the node that is primary for the session id in
// this node's table, or "" when there is none (the demo's X-Session-Owner).
func (s *Store) Owner(id string) string {
	t := s.Table()
	if own := t.Owners(t.Partition(id)); len(own) > 0 {
		return own[0].Name
	}
	return ""
}

// maxDraws bounds the IDs NewID draws before it settles for one whose
// primary is elsewhere: a node that is primary of a share 1/n of the
// partitions misses 128 times in a row with probability (1-1/n)^128,
// under 1e-7 for 8 members.
const maxDraws = 128

// NewID implements session.IDGenerator: a fresh session ID in a partition
// this node is primary of, so that behind a sticky balancer (which keeps
// sending a client to the worker that created its session) a session is
// served where it lives: a load is local, a save costs one replication
// round trip. It draws IDs from crypto/rand until one falls in such a
// partition (about as many draws as there are members), so an ID is a
// uniformly random 256-bit value among those of this node's partitions:
// at least 256 - log2(members) bits that nobody can guess. What its
// partition tells is which node was its primary when it was made, which
// the node's answers tell anyway; nothing that narrows down an ID. A node
// that is primary of nothing (joining, draining) draws one plain ID.
func (s *Store) NewID() string {
	t := s.Table()
	if !t.eligibleMember(s.name) {
		return session.NewID()
	}
	for range maxDraws {
		if id := session.NewID(); t.IsPrimary(t.Partition(id), s.name) {
			return id
		}
	}
	return session.NewID()
}

// Load implements session.Store: it reads the session at its primary, or
// at the next live replica when the primary does not answer (LoadBinary).
func (s *Store) Load(ctx context.Context, token string) (session.Record, bool, error) {
	data, found, err := s.LoadBinary(ctx, token)
	if err != nil || !found {
		return session.Record{}, false, err
	}
	rec, err := decodeFound(token, data)
	if err != nil {
		return session.Record{}, false, fmt.Errorf("cluster: load: %w", err)
	}
	return rec, true, nil
}

// LoadBinary implements session.BinaryLoader: Load without decoding. The
// record travels from the engine of the node that serves it to the caller
// as the bytes the engine keeps. Concurrent loads of one session from
// this node share one remote read.
func (s *Store) LoadBinary(ctx context.Context, token string) ([]byte, bool, error) {
	s.calls.enter()
	defer s.calls.exit()
	if s.closed.Load() {
		return nil, false, fmt.Errorf("cluster: load: %w", session.ErrClosed)
	}
	if !session.ValidID(token) {
		return nil, false, nil
	}
	if !s.quorate() {
		return nil, false, fmt.Errorf("cluster: load: %w", ErrNoQuorum)
	}
	p, home := s.home(token)
	if home {
		data, found := s.engine.LoadBinary(token)
		if !found || isTombstoneBinary(data) {
			return nil, false, nil
		}
		return data, true, nil
	}
	if s.leased(p) {
		// A session's first use goes on to the primary, which decides what
		// is spare at its bounds (bounds.go); later ones stay here.
		data, found, first := s.engine.LoadBinaryFirst(token)
		if !first {
			s.counters.leaseReads.Add(1)
			if !found || isTombstoneBinary(data) {
				return nil, false, nil
			}
			return data, true, nil
		}
	}
	v, err := s.loads.Do(token, func() (any, error) {
		resp, err := s.route(ctx, opLoad, routed{id: token})
		if err != nil {
			return nil, err
		}
		data, found, err := parseFound(resp)
		return foundData{data, found}, err
	})
	if err != nil {
		return nil, false, fmt.Errorf("cluster: load: %w", err)
	}
	fd := v.(foundData)
	if !fd.found {
		return nil, false, nil
	}
	return bytes.Clone(fd.data), true, nil // callers of one flight must not share it
}

type foundData struct {
	data  []byte
	found bool
}

// Save implements session.Store. The patch is applied at the primary of
// the session's partition and acknowledged after N copies hold it. With
// the quorum guard (unless Config.AvailableFirst), a node without quorum
// refuses with ErrNoQuorum.
func (s *Store) Save(ctx context.Context, token string, p session.Patch) (string, error) {
	s.calls.enter()
	defer s.calls.exit()
	var err error
	switch {
	case s.closed.Load():
		err = session.ErrClosed
	case token != "" && !session.ValidID(token):
		err = session.ErrNotFound
	case (token == "" || p.NewID != "") && !session.ValidID(p.NewID):
		err = fmt.Errorf("%w: %.50q", engine.ErrInvalidID, p.NewID)
	case patchSize(&p) > s.cfg.MaxRecordSize:
		err = fmt.Errorf("patch of %d bytes exceeds MaxRecordSize (%d): %w", patchSize(&p), s.cfg.MaxRecordSize, session.ErrTooLarge)
	case !s.quorate():
		err = ErrNoQuorum
	default:
		err = s.saveAnywhere(ctx, token, p)
	}
	if err != nil {
		return "", fmt.Errorf("cluster: save: %w", err)
	}
	if p.NewID != "" {
		return p.NewID, nil
	}
	return token, nil
}

// saveAnywhere applies p here when this node is the session's home (see
// home), and routes it to the session's primary otherwise.
func (s *Store) saveAnywhere(ctx context.Context, token string, p session.Patch) error {
	id := token
	if id == "" {
		id = p.NewID
	}
	part, ok := s.home(id)
	if !ok {
		return s.saveRemote(ctx, part, token, p)
	}
	s.serving.enter() // Drain waits for it, as for a routed request
	defer s.serving.exit()
	if s.closed.Load() {
		return session.ErrClosed
	}
	_, err := s.save(ctx, part, token, p, "")
	return err
}

// saveRemote routes a save to the primary of partition part. When this
// node is an owner of part (a backup, in its table) and the save patches
// an existing session, it asks to keep the copy itself (flagKeep): a
// primary whose table agrees leaves it out of the replication and
// answers with the record it wrote, and this node stores it as it would
// a put, before the save is acknowledged. That is one round trip where
// the forward and the put were two. If the copy cannot be stored here
// (this node began to drain or closed meanwhile), the save fails: it is
// not acknowledged, and, as any failed write, it may or may not survive
// on the primary. Why no acknowledged write is lost: see "Requests" in
// the package doc.
func (s *Store) saveRemote(ctx context.Context, part int, token string, p session.Patch) error {
	req := routed{id: token, patch: p}
	if token != "" && (p.NewID == "" || p.NewID == token) && !s.draining.Load() && s.Table().IsOwner(part, s.name) {
		req.flags = flagKeep
	}
	resp, err := s.route(ctx, opSave, req)
	if err != nil || len(resp) == 0 || req.flags&flagKeep == 0 {
		return err
	}
	data, found, err := parseFound(resp)
	if err == nil && !found {
		err = fmt.Errorf("%w: a save's reply holds no record", ErrBadMessage)
	}
	if err != nil {
		return fmt.Errorf("partition %d: the copy to keep: %w", part, err)
	}
	if _, err := s.takeCopy(ctx, "keep", "", token, data); err != nil {
		return fmt.Errorf("partition %d: keep the copy: %w", part, err)
	}
	s.counters.keptCopies.Add(1)
	return nil
}

// home reports whether this node serves a request for session id without
// routing it (and in which partition id is): it is the authority of the
// partition (its primary, holding it, not isolated) and checks no pause.
// Behind a sticky balancer most requests are at home (see NewID); what
// serve does beyond this (redirects, failover, sources) is for the others.
func (s *Store) home(id string) (int, bool) {
	t := s.Table()
	p := t.Partition(id)
	s.checkPause()
	return p, !s.checkPending() && s.authority(t, p)
}

// Quorate reports whether this node sees a majority of the last stable
// membership (see quorum.go), the quorum guard's condition for serving;
// with Config.AvailableFirst it is always true. A node that is not
// quorate is not Ready either.
func (s *Store) Quorate() bool { return s.quorate() }

// quorate reports whether reads and writes are allowed: with
// Config.AvailableFirst always, else when this node sees a majority of
// the last stable membership (quorum.go).
func (s *Store) quorate() bool {
	return s.cfg.AvailableFirst || s.member() && s.members.quorate()
}

// patchSize is a lower bound of the size the patch adds to a record.
func patchSize(p *session.Patch) int {
	n := 0
	for k, v := range p.Set {
		n += len(k) + len(v)
	}
	return n
}

// Delete implements session.Store: the primary replaces the session with a
// tombstone and replicates it like a write, so no replica can bring the
// session back.
func (s *Store) Delete(ctx context.Context, token string) error {
	s.calls.enter()
	defer s.calls.exit()
	if s.closed.Load() {
		return fmt.Errorf("cluster: delete: %w", session.ErrClosed)
	}
	if !session.ValidID(token) {
		return nil
	}
	if !s.quorate() {
		return fmt.Errorf("cluster: delete: %w", ErrNoQuorum)
	}
	if _, err := s.route(ctx, opDelete, routed{id: token}); err != nil {
		return fmt.Errorf("cluster: delete: %w", err)
	}
	return nil
}
