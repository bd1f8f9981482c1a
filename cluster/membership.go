package cluster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/memberlist"
	"github.com/sessionmesh/sessionmesh/internal/ratelog"
)

// metaVersion is the layout of nodeMeta; a node with another version is
// logged and left out of the table rather than misread.
const metaVersion = 1

// nodeMeta is what every node gossips about itself (memberlist's node
// metadata, at most 512 bytes). Peer is where its sessions are served.
// Seq counts the node's own changes, so a direct notice (opMember) and
// gossip can arrive in any order without an old state undoing a new one.
type nodeMeta struct {
	Version  int    `json:"v"`
	Peer     string `json:"peer"`
	Draining bool   `json:"draining,omitempty"`
	Joining  bool   `json:"joining,omitempty"`
	Left     bool   `json:"left,omitempty"` // drained and handed everything off: drop it now
	Seq      uint64 `json:"seq,omitempty"`
}

func (n nodeMeta) member(name string) Member {
	return Member{Name: name, Addr: n.Peer, Draining: n.Draining, Joining: n.Joining}
}

// membership runs memberlist and keeps the partition table in step with
// it. memberlist calls the delegate methods from its own goroutines, so
// they only update the member map under mu and publish a new Table.
type membership struct {
	cfg       Config
	name      string
	port      int    // the advertised gossip port, the default port of seeds
	addr      string // the advertised gossip address, "ip:port"
	ml        *memberlist.Memberlist
	log       *slog.Logger
	onChange  func(old, new *Table)     // runs under mu before a new table is published
	current   atomic.Pointer[published] // the table and its change channel: read on every request without mu
	onContact func()                    // a probe of another member was answered
	answers   func(Member) bool         // whether a member answers a peer call (expire); nil: never asked
	clock     func() time.Time          // times the quorum's stable membership
	mono      func() time.Duration      // the node's monotonic clock: how long a member has been one (pause.go)
	whole     atomic.Bool               // the members are exactly the stable set: quorate without mu (quorum.go)
	gossipLog *logWriter                // memberlist's log, rate-limited; shared with the transport
	keyring   *memberlist.Keyring       // the gossip keys; nil without a secret (keys.go changes them)

	mu      sync.Mutex // guards everything below
	self    nodeMeta
	members map[string]Member
	seqs    map[string]uint64 // node name -> Seq of the state in members
	gossip  map[string]string // node name -> gossip address, for rejoin
	epoch   uint64
	stable  stableSet                // the last stable membership (quorum.go)
	added   map[string]time.Duration // node name -> mono() when it last became a member (pause.go)
	dying   map[string]*dying        // node name -> its removal after deathGrace (NotifyLeave)
	checks  sync.WaitGroup           // expire's calls in progress (shutdown waits for them)
	gone    map[string]bool          // members that said they left (nodeMeta.Left); names are never reused
	stopped bool                     // leave or shutdown ran: no more removals
}

// bootIDLen is the length of a boot ID: 12 hex digits.
const bootIDLen = 12

// newNodeName returns prefix + "-" + a random boot ID.
func newNodeName(prefix string) string {
	var b [bootIDLen / 2]byte
	rand.Read(b[:])
	return prefix + "-" + hex.EncodeToString(b[:])
}

// newMembership returns the membership of node name, with no member and
// no gossip yet (start). onChange sees every table change (see
// membership.onChange). A node starts joining: it owns nothing until it
// has pulled its partitions.
func newMembership(cfg Config, name string, mono func() time.Duration, onChange func(old, new *Table), onContact func()) *membership {
	m := &membership{
		cfg: cfg, name: name, log: cfg.Logger.With("node", name),
		onChange: onChange, onContact: onContact, clock: cfg.Now, mono: mono,
		gossipLog: newLogWriter(cfg.Logger.With("node", name), cfg.Now),
		self:      nodeMeta{Version: metaVersion, Joining: true},
		members:   map[string]Member{},
		seqs:      map[string]uint64{},
		gossip:    map[string]string{},
		added:     map[string]time.Duration{},
		dying:     map[string]*dying{},
		gone:      map[string]bool{},
	}
	m.stable = newStableSet(name, m.clock())
	m.current.Store(&published{table: NewTable(nil, cfg.Partitions, cfg.Replicas, 0), changed: make(chan struct{})})
	return m
}

// start creates the memberlist node on tr; it does not join yet.
// peerAddr, the advertised peer address, goes into the metadata; memberlist
// adds this node to the table at once.
// gossipKeys are the gossip keys, the first memberlist's primary; none
// leaves gossip unencrypted.
func (m *membership) start(tr memberlist.Transport, adv advertise, peerAddr string, gossipKeys [][]byte) error {
	m.mu.Lock()
	m.self.Peer, m.port = peerAddr, adv.port
	m.addr = net.JoinHostPort(adv.ip.String(), strconv.Itoa(adv.port))
	m.mu.Unlock()
	if len(gossipKeys) > 0 {
		kr, err := memberlist.NewKeyring(gossipKeys[1:], gossipKeys[0])
		if err != nil {
			return fmt.Errorf("cluster: gossip keyring: %w", err)
		}
		m.keyring = kr
	}
	ml, err := memberlist.Create(m.memberlistConfig(tr, adv))
	if err != nil {
		return fmt.Errorf("cluster: start gossip on %s: %w", m.cfg.Bind, err)
	}
	m.ml = ml
	return nil
}

func (m *membership) memberlistConfig(tr memberlist.Transport, adv advertise) *memberlist.Config {
	mc := memberlist.DefaultLANConfig()
	mc.Name = m.name
	mc.Transport = tr
	mc.AdvertiseAddr, mc.AdvertisePort = adv.ip.String(), adv.port
	mc.BindPort = adv.port // the default port of seeds given without one
	mc.Keyring = m.keyring
	mc.GossipVerifyIncoming, mc.GossipVerifyOutgoing = true, true
	mc.ProbeInterval, mc.ProbeTimeout = m.cfg.ProbeInterval, m.cfg.ProbeTimeout
	mc.SuspicionMult = m.cfg.SuspicionMult
	mc.GossipInterval, mc.PushPullInterval = m.cfg.GossipInterval, m.cfg.PushPullInterval
	mc.TCPTimeout = min(max(10*m.cfg.ProbeInterval, time.Second), 10*time.Second)
	mc.GossipToTheDeadTime = 2 * m.cfg.PushPullInterval
	mc.Delegate, mc.Events, mc.Ping = m, m, m
	mc.Logger = m.gossipLogger()
	return mc
}

// gossipLogger is the logger of memberlist and of its transport.
func (m *membership) gossipLogger() *log.Logger { return log.New(m.gossipLog, "", 0) }

// published is a table and the channel closed when the next one replaces
// it. Both are published together, so a reader that took the channel and
// then the table (or the pair at once) cannot miss a change.
type published struct {
	table   *Table
	changed chan struct{}
}

// Table returns the current partition table.
func (m *membership) Table() *Table { return m.current.Load().table }

// Changed returns a channel closed at the next table change.
func (m *membership) Changed() <-chan struct{} { return m.current.Load().changed }

// join contacts the seeds. Failing to reach any is not fatal: a worker
// may start before its seeds, and rejoin keeps trying.
func (m *membership) join(seeds []string) {
	if len(seeds) == 0 {
		return
	}
	if n, err := m.ml.Join(seeds); err != nil {
		m.log.Warn("cluster: join seeds failed; retrying every RejoinInterval", "seeds", seeds, "err", err)
	} else {
		m.log.Debug("cluster: joined", "seeds", seeds, "reached", n)
	}
}

// rejoin joins the seeds that resolve to no current member, so two halves
// of a partition that outlived the dead-node timeout find each other again,
// and the members memberlist declared dead that are kept because they
// still answer (expire): the push and pull of a join shows each side the
// other's verdict, which it refutes.
func (m *membership) rejoin() {
	// memberlist's Members() hands out nodes it keeps changing, so the
	// addresses come from the copies taken in the event callbacks.
	known := map[string]bool{}
	var missing []string
	m.mu.Lock()
	for name, addr := range m.gossip {
		if d := m.dying[name]; d != nil && d.kept {
			missing = append(missing, addr)
		} else {
			known[addr] = true
		}
	}
	m.mu.Unlock()
	for _, seed := range m.cfg.Join {
		addrs := m.resolveSeed(seed)
		if len(addrs) == 0 || !allKnown(addrs, known) {
			missing = append(missing, seed)
		}
	}
	m.join(missing)
}

// seedsAnswer dials the gossip port of every address the seeds name but
// this node's own. others is how many such addresses there are;
// answered, whether one accepted a connection (it is up, whether or not
// it lets this node join).
func (m *membership) seedsAnswer(timeout time.Duration) (answered bool, others int) {
	for _, seed := range m.cfg.Join {
		for _, addr := range m.resolveSeed(seed) {
			if addr == m.addr {
				continue
			}
			others++
			if conn, err := net.DialTimeout("tcp", addr, timeout); err == nil {
				conn.Close()
				answered = true
			}
		}
	}
	return answered, others
}

func allKnown(addrs []string, known map[string]bool) bool {
	for _, a := range addrs {
		if !known[a] {
			return false
		}
	}
	return true
}

// resolveSeed returns the "ip:port" addresses a seed names (a DNS name may
// name several workers).
func (m *membership) resolveSeed(seed string) []string {
	host, port := splitSeed(seed, m.port)
	ips, err := net.LookupHost(host)
	if err != nil {
		return nil
	}
	out := make([]string, len(ips))
	for i, ip := range ips {
		out[i] = net.JoinHostPort(ip, port)
	}
	return out
}

// updateSelf changes this node's metadata, applies it to the local table
// at once and gossips it. It returns the new metadata, which the caller
// also sends to every member directly (opMember) so their tables change
// now rather than after some gossip rounds.
func (m *membership) updateSelf(change func(*nodeMeta)) (nodeMeta, error) {
	m.mu.Lock()
	change(&m.self)
	m.self.Seq++
	meta := m.self
	m.applyLocked(m.name, meta)
	m.mu.Unlock()
	if err := m.ml.UpdateNode(m.cfg.LeaveTimeout); err != nil {
		return meta, fmt.Errorf("cluster: gossip %+v: %w", meta, err)
	}
	return meta, nil
}

// apply takes a member's metadata sent directly by that member. An
// unknown member is left to gossip (it has not joined here yet); a state
// older than the one known is ignored; one whose Seq jumps implausibly far
// ahead is refused (plausibleSeq).
func (m *membership) apply(name string, meta nodeMeta) (known bool, err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.members[name]; !ok {
		return false, nil
	}
	if !plausibleSeq(m.seqs[name], meta.Seq) {
		return true, fmt.Errorf("%w: member %.64q jumps from change %d to %d", ErrBadMessage, name, m.seqs[name], meta.Seq)
	}
	m.applyLocked(name, meta)
	return true, nil
}

// maxSeqStep is the furthest a member's Seq may move ahead of the one
// known in a direct notice. A node changes its metadata a few times in its
// life (ready, draining, left), and a notice it sends carries the next
// Seq; one far ahead could only be forged, and would pin the member's
// metadata beyond the reach of its own later gossip.
const maxSeqStep = 1 << 10

// plausibleSeq reports whether a direct notice may move a member's Seq
// from known to got. Going back is plausible (applyLocked ignores it).
func plausibleSeq(known, got uint64) bool {
	return got <= known || got-known <= maxSeqStep
}

func (m *membership) applyLocked(name string, meta nodeMeta) {
	if meta.Seq < m.seqs[name] || m.gone[name] {
		return
	}
	if meta.Left && name != m.name {
		if _, ok := m.members[name]; ok {
			m.removeLocked(name, true)
		}
		m.gone[name] = true // later gossip about it must not bring it back
		return
	}
	m.seqs[name] = meta.Seq
	mem := meta.member(name)
	old, ok := m.members[name]
	if ok && old == mem {
		return
	}
	if !ok {
		m.added[name] = m.mono()
		m.stable.joined(name) // quorum.go: joins count at once
	}
	m.members[name] = mem
	m.log.Info("cluster: member changed", "member", name, "peer", meta.Peer, "draining", meta.Draining, "joining", meta.Joining)
	m.rebuildLocked()
}

// memberFor returns how long name has been a member without a break, or
// 0 when it is not one.
func (m *membership) memberFor(name string) time.Duration {
	m.mu.Lock()
	defer m.mu.Unlock()
	at, ok := m.added[name]
	if !ok {
		return 0
	}
	return max(m.mono()-at, 1)
}

// others returns every member but this node.
func (m *membership) others() []Member {
	return splitSelf(m.Table().Members(), m.name)
}

// leave tells the others this node is going, then stops gossip.
func (m *membership) leave() error {
	err := m.ml.Leave(m.cfg.LeaveTimeout)
	if serr := m.shutdown(); err == nil {
		err = serr
	}
	return err
}

// shutdown stops gossip without a word: the others see a crash.
func (m *membership) shutdown() error {
	err := m.ml.Shutdown()
	m.mu.Lock()
	m.stopped = true
	for name, d := range m.dying {
		d.timer.Stop()
		delete(m.dying, name)
	}
	m.mu.Unlock()
	m.checks.Wait() // their calls end with the Store's bg ctx, canceled before
	return err
}

// NodeMeta implements memberlist.Delegate.
func (m *membership) NodeMeta(limit int) []byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, _ := json.Marshal(m.self)
	if len(b) > limit {
		m.log.Error("cluster: node metadata too long; gossiping none", "len", len(b), "limit", limit)
		return nil
	}
	return b
}

// The rest of memberlist.Delegate is unused: sessions travel over the peer
// transport, never through gossip.
func (m *membership) NotifyMsg([]byte)                           {}
func (m *membership) GetBroadcasts(overhead, limit int) [][]byte { return nil }
func (m *membership) LocalState(join bool) []byte                { return nil }
func (m *membership) MergeRemoteState(buf []byte, join bool)     {}

// AckPayload implements memberlist.PingDelegate: acks carry nothing.
func (m *membership) AckPayload() []byte { return nil }

// NotifyPingComplete implements memberlist.PingDelegate: another member
// answered a probe (pause.go counts it as contact).
func (m *membership) NotifyPingComplete(*memberlist.Node, time.Duration, []byte) {
	if m.onContact != nil {
		m.onContact()
	}
}

// NotifyJoin implements memberlist.EventDelegate.
func (m *membership) NotifyJoin(n *memberlist.Node) { m.upsert(n, "joined") }

// NotifyUpdate implements memberlist.EventDelegate.
func (m *membership) NotifyUpdate(n *memberlist.Node) { m.upsert(n, "updated") }

// NotifyLeave implements memberlist.EventDelegate: a node that left or
// was declared dead. One that was draining when it was dropped left on
// purpose and is no longer counted by the quorum guard; any other may be
// alive behind a split and still is. (memberlist's Node.State does not
// tell: it is not kept up to date in the copy it hands to NotifyLeave.)
//
// A member declared dead is removed from the table only after deathGrace,
// and only if it does not answer a peer call then (expire): a verdict of
// memberlist is not proof. A node coming back from a network split gossips
// the deaths its own suspicion timers reached while it was cut off,
// memberlist applies them, and the members declared dead refute them
// within a gossip round or two; a node slowed down by a busy machine may
// miss a probe's deadline and refute later. Without the grace and the
// call, the nodes that stayed together would each drop the other for
// that moment and both serve the same partitions, so concurrent writes
// to a session would conflict and one of them be lost. A draining member
// gets the same: draining is not drained (a drained one says Left and is
// dropped at once, applyLocked).
func (m *membership) NotifyLeave(n *memberlist.Node) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.members[n.Name]; !ok || m.stopped {
		return
	}
	if _, pending := m.dying[n.Name]; !pending {
		m.dyingLocked(n.Name, false)
	}
}

// dying is the pending removal of a member memberlist declared dead.
type dying struct {
	timer *time.Timer // runs expire
	kept  bool        // it answered after a grace already
}

// dyingLocked schedules the removal of member name after deathGrace.
func (m *membership) dyingLocked(name string, kept bool) {
	d := &dying{kept: kept}
	d.timer = time.AfterFunc(m.cfg.deathGrace(), func() { m.expire(name, d) })
	m.dying[name] = d
}

// expire removes a member declared dead deathGrace ago (pending removal
// d), unless it was heard alive since (upsert cancels the removal) or it
// still answers a peer call (answers, bounded by CallTimeout). One that
// answers is kept and asked again a grace later, until memberlist hears
// it alive (rejoin pushes the two memberlists' states to each other,
// which makes it refute the verdict) or it stops answering.
func (m *membership) expire(name string, d *dying) {
	m.mu.Lock()
	mem, ok := m.members[name]
	if m.dying[name] != d || m.stopped || !ok {
		if m.dying[name] == d {
			delete(m.dying, name) // it left meanwhile
		}
		m.mu.Unlock()
		return
	}
	m.checks.Add(1)
	defer m.checks.Done()
	m.mu.Unlock()
	alive := m.answers != nil && m.answers(mem)
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.dying[name] != d || m.stopped {
		return
	}
	if mem, ok = m.members[name]; !ok {
		delete(m.dying, name)
		return
	}
	if alive {
		level := slog.LevelWarn
		if d.kept {
			level = slog.LevelDebug // said once per verdict
		}
		m.log.Log(context.Background(), level, "cluster: member declared dead still answers; kept", "member", name)
		m.dyingLocked(name, true)
		return
	}
	delete(m.dying, name)
	m.removeLocked(name, mem.Draining)
}

// removeLocked drops a member from the table; one that drained (left) is
// also dropped from the quorum's stable membership.
func (m *membership) removeLocked(name string, left bool) {
	delete(m.members, name)
	delete(m.seqs, name)
	delete(m.added, name)
	delete(m.gossip, name)
	if left {
		m.stable.left(name)
	}
	m.log.Info("cluster: member gone", "member", name, "left", left)
	m.rebuildLocked()
}

func (m *membership) upsert(n *memberlist.Node, what string) {
	m.mu.Lock()
	m.gossip[n.Name] = n.Address()
	m.mu.Unlock()
	var meta nodeMeta
	if err := json.Unmarshal(n.Meta, &meta); err != nil || meta.Version != metaVersion || meta.Peer == "" {
		m.log.Error("cluster: member with unreadable metadata left out of the table", "member", n.Name, "meta", string(n.Meta))
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.log.Debug("cluster: member "+what, "member", n.Name)
	if d, pending := m.dying[n.Name]; pending {
		d.timer.Stop()
		delete(m.dying, n.Name)
		m.log.Info("cluster: member declared dead is alive again; kept", "member", n.Name)
	}
	m.applyLocked(n.Name, meta)
}

func (m *membership) rebuildLocked() {
	list := make([]Member, 0, len(m.members))
	for _, mem := range m.members {
		list = append(list, mem)
	}
	m.epoch++
	old := m.current.Load()
	t := NewTable(list, m.cfg.Partitions, m.cfg.Replicas, m.epoch)
	if m.onChange != nil {
		m.onChange(old.table, t)
	}
	m.current.Store(&published{table: t, changed: make(chan struct{})})
	m.stable.changed(m.clock())
	m.whole.Store(false)
	close(old.changed)
}

// logWriter sends memberlist's log lines ("[DEBUG] memberlist: ...") to
// slog at the matching level, through a rate limit per level: memberlist
// logs every UDP packet that fails to decrypt or carries a wrong label at
// [ERR], and such packets are free to send and to spoof, so without a limit
// anyone who reaches the gossip port writes the log. A limit per level
// keeps a flood of one kind from hiding the others (gossip's own warnings
// and state changes). One logWriter serves the memberlist node and its
// transport.
type logWriter struct {
	levels [len(gossipLevels)]*ratelog.Logger
}

// gossipLevels are memberlist's line prefixes and their slog levels;
// a line without one is Info.
var gossipLevels = [...]struct {
	prefix string
	level  slog.Level
}{{"[DEBUG]", slog.LevelDebug}, {"[INFO]", slog.LevelInfo}, {"[WARN]", slog.LevelWarn}, {"[ERR]", slog.LevelError}}

// The gossip log writes at most gossipLogBurst records per level per
// gossipLogPeriod, as the peer server does.
const (
	gossipLogBurst  = 10
	gossipLogPeriod = 10 * time.Second
)

func newLogWriter(log *slog.Logger, now func() time.Time) *logWriter {
	w := &logWriter{}
	for i := range w.levels {
		w.levels[i] = ratelog.New(log, gossipLogBurst, gossipLogPeriod, now)
	}
	return w
}

func (w *logWriter) Write(b []byte) (int, error) {
	line, i := strings.TrimSpace(string(b)), 1 // Info
	for j, l := range gossipLevels {
		if rest, ok := strings.CutPrefix(line, l.prefix); ok {
			line, i = strings.TrimSpace(rest), j
			break
		}
	}
	w.levels[i].Log(gossipLevels[i].level, line)
	return len(b), nil
}
