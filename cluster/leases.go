package cluster

import (
	"context"
	"encoding/binary"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sessionmesh/sessionmesh/cluster/peer"
	"github.com/sessionmesh/sessionmesh/session"
)

// Reads at a backup. A load that reaches a backup of its session's
// partition is served from the backup's own copy, without the round trip
// to the primary, while the backup holds a read lease from the primary
// that covers the partition. With round-robin balancing that makes two
// loads in three local instead of one (N=2 of three workers).
//
// The invariant: while a lease covering partition p is live, no write to
// p is acknowledged, and no copy of p from elsewhere is stored by the
// primary, unless the lessee stored it too. Then the lessee holds every
// acknowledged write of p and its read is as fresh as the primary's.
//
// A lease is asked for by the backup (opLease, every ReadLease/3 while it
// gets loads as a backup: leaseIdle) and granted by the primary for
// partitions it is the authority of (holds, not isolated), for which the
// asker is a backup in the primary's table, which must be the asker's
// table too (same fingerprint), that no joining node is pulling from it
// (receivers), and that the asker has not missed a write of since it last
// pulled them (dirty). The backup uses it for ReadLease from the moment it
// asked, only while its table still has that fingerprint, while it holds
// the partition itself, and while no joining node pulls the partition
// from it; the primary counts it as live for
// leaseSpan from the moment it granted it (later, and longer by a margin
// for the clocks' rates), and counts every lease it granted in the last
// span, not only the newest (an answer may be lost).
//
// The primary keeps the invariant at three points:
//   - settle, after replicating a write (replicateBut): a lessee whose
//     live lease covers the partition and that did not store the copy (it
//     did not answer; a stand-in took a hinted copy; tables changed) is
//     revoked before the write is acknowledged: told to stop (opRevoke),
//     or, when it does not answer, waited out. The partition becomes dirty
//     for every backup that did not store the copy, lease or not: it gets
//     no lease for it until it has pulled it from this node again, which
//     the next lease's answer asks it to do (it stops holding the
//     partition, and its mover pulls it). A joining node whose copy of a
//     write failed is dirty the same way.
//   - inflow, before storing a copy that is not its own write (a put from
//     another primary or an acting one, a hinted copy handed back, a
//     transfer, a repair): lessees other than the copy's sender are
//     revoked the same way and the partition is dirty for them.
//   - a joining node registering to pull partitions (handlePull) revokes
//     the leases that cover them, and none covers them again until the
//     joiner is a member here (receivers): by the time it serves them
//     no lease older than its pull is live. A backup that is itself such a
//     source stops reading them the same way.
//
// A node that acknowledges a write on failover (it is not the primary in
// its own table) cannot know the leases the primary gave; when a backup
// did not store the copy, it waits leaseSpan before acknowledging, so
// that any lease the primary granted before the write began has run out.
// A lease the primary grants later comes from a primary that lacks the
// write itself, and reads there are exactly as stale as at the primary,
// as they were before leases; once the write reaches the primary (the
// hinted copy handed back, or repair), inflow revokes the lease.
//
// What a backup missed while the primary did not count it is dirty too:
// a member that reappears in the table without joining (back from a
// split, or after this node lost sight of it) for every partition it
// backs up here, and, when this node becomes a partition's primary, the
// backups that were backups before (the old primary knew what they
// missed; this one does not).
//
// The primary decides at its bounds which sessions are spare (never used
// after the request that created it, bounds.go); a backup's read does
// not reach it, so a session's first use is sent on to the primary once
// (engine.LoadBinaryFirst), and later reads stay at the backup.
//
// Revocations and grants carry an epoch per lessee, so an answer to a
// lease request that crossed a revocation is not used. Config.ReadLease
// below 0 turns all of it off: every load goes to the primary.

// leaseSpan is how long a primary counts a lease as live: ReadLease from
// when it granted it, plus an eighth for clocks that run at different
// rates.
func (c *Config) leaseSpan() time.Duration { return c.ReadLease + c.ReadLease/8 }

// bitset is a set of partitions.
type bitset []uint64

func newBitset(n int) bitset    { return make(bitset, (n+63)/64) }
func (b bitset) has(p int) bool { return p >= 0 && p/64 < len(b) && b[p/64]&(1<<(p%64)) != 0 }
func (b bitset) add(p int)      { b[p/64] |= 1 << (p % 64) }
func (b bitset) remove(p int)   { b[p/64] &^= 1 << (p % 64) }

// grant is one lease as its grantor counts it.
type grant struct {
	until time.Duration // mono(); live before it
	cover bitset
}

// lessee is what a primary knows of one backup's leases.
type lessee struct {
	addr     string
	grants   []grant       // granted in the last span, oldest first
	epoch    uint64        // bumped by each revocation
	revoking chan struct{} // non-nil while a revocation is under way; closed when it ended
	dirty    map[int]uint64
	dirtyGen uint64 // the newest gen in dirty
}

// grantor is the primary's side: the leases it gave.
type grantor struct {
	mu  sync.Mutex
	by  map[string]*lessee
	gen uint64 // counts dirtyings, so a pull can tell whether one came after it began
}

func (g *grantor) lessee(name string) *lessee {
	if g.by == nil {
		g.by = map[string]*lessee{}
	}
	l := g.by[name]
	if l == nil {
		l = &lessee{dirty: map[int]uint64{}}
		g.by[name] = l
	}
	return l
}

// prune forgets the grants that ran out before now.
func (l *lessee) prune(now time.Duration) {
	for len(l.grants) > 0 && l.grants[0].until <= now {
		l.grants = l.grants[1:]
	}
}

// liveCover reports whether a live grant of l covers p, forgetting
// expired ones.
func (l *lessee) liveCover(p int, now time.Duration) bool {
	l.prune(now)
	for _, g := range l.grants {
		if g.cover.has(p) {
			return true
		}
	}
	return false
}

// leasedOut reports whether a live read lease this node gave covers
// partition p: a copy of p stored now would wait for it to end (settle).
func (g *grantor) leasedOut(p int, now time.Duration) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, l := range g.by {
		if l.liveCover(p, now) {
			return true
		}
	}
	return false
}

// settle keeps the lease invariant for parts before a write to them is
// acknowledged or a copy of them stored: every lessee whose live lease
// covers one of them and for which stored is false is revoked first (see
// the top of this file). With dirty, those partitions become dirty for
// it, and for every backup of theirs (this node their primary) for which
// stored is false. It returns an error only when ctx ends first.
func (s *Store) settle(ctx context.Context, stored func(name string) bool, dirty bool, parts ...int) error {
	if s.cfg.ReadLease <= 0 || len(parts) == 0 {
		return nil
	}
	t := s.Table()
	g := &s.grantor
	g.mu.Lock()
	for _, p := range parts {
		if !dirty || !t.IsPrimary(p, s.name) {
			continue
		}
		// Every backup that lacks the copy is dirty, with a lease or not:
		// a later one must not cover what it missed.
		top := t.top[p]
		for _, idx := range top[1:min(len(top), t.replicas)] {
			if name := t.members[idx].Name; !stored(name) {
				g.markDirty(name, p)
			}
		}
	}
	var wait []chan struct{}
	now := s.mono()
	for name, l := range g.by {
		if stored(name) {
			continue
		}
		covered := false
		for _, p := range parts {
			if l.liveCover(p, now) {
				covered = true
				if dirty {
					g.markDirty(name, p)
				}
			}
		}
		if !covered {
			continue
		}
		if l.revoking == nil {
			l.revoking = make(chan struct{})
			l.epoch++
			var until time.Duration
			for _, gr := range l.grants {
				until = max(until, gr.until)
			}
			s.counters.leaseRevocations.Add(1)
			go s.revoke(name, l, l.addr, l.epoch, until)
		}
		wait = append(wait, l.revoking)
	}
	g.mu.Unlock()
	for _, ch := range wait {
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("%d partitions from partition %d: waiting for a backup's read lease to end: %w", len(parts), parts[0], ctx.Err())
		}
	}
	return nil
}

// revoke ends l's leases: it tells the lessee (opRevoke) or, when that
// fails, waits until the last of them ran out (until); then it forgets
// them and wakes the writes waiting in settle.
func (s *Store) revoke(name string, l *lessee, addr string, epoch uint64, until time.Duration) {
	ctx, cancel := context.WithTimeout(s.bg, max(until-s.mono(), time.Millisecond))
	_, err := s.call(ctx, addr, opRevoke, binary.AppendUvarint(nil, epoch))
	cancel()
	if err != nil {
		s.log.Debug("cluster: a backup did not answer the end of its read lease; waiting it out", "backup", name, "err", err)
		// Also while closing: a write acknowledged before the lease ran
		// out could be missing from a backup's reads. It is short.
		if left := until - s.mono(); left > 0 {
			time.Sleep(left)
		}
	}
	g := &s.grantor
	g.mu.Lock()
	l.grants = nil
	close(l.revoking)
	l.revoking = nil
	g.mu.Unlock()
}

// inflow is settle for a copy of partition p from the member named from
// ("" when unknown) that this node is about to store: it holds what its
// lessees may not.
func (s *Store) inflow(ctx context.Context, from string, parts ...int) error {
	return s.settle(ctx, func(name string) bool { return name == from }, true, parts...)
}

// noLeases is settle's stored for a change that no lessee saw.
func noLeases(string) bool { return false }

// leaseReply is the answer to opLease.
type leaseReply struct {
	granted  bool
	epoch    uint64
	dirtyGen uint64 // newest dirtying among dirty
	dirty    []int  // partitions the asker must pull again before they are covered
	cover    bitset
}

func (r *leaseReply) marshal() []byte {
	b := []byte{boolByte(r.granted)}
	b = binary.AppendUvarint(b, r.epoch)
	b = binary.AppendUvarint(b, r.dirtyGen)
	b = appendInts(b, r.dirty)
	b = binary.AppendUvarint(b, uint64(len(r.cover)))
	for _, w := range r.cover {
		b = binary.LittleEndian.AppendUint64(b, w)
	}
	return b
}

func parseLeaseReply(b []byte, partitions int) (leaseReply, error) {
	d := reader{b: b}
	r := leaseReply{granted: d.byte() == 1, epoch: d.uvarint(), dirtyGen: d.uvarint()}
	r.dirty = d.ints()
	n := d.count(8)
	if n > (partitions+63)/64 {
		d.fail(fmt.Sprintf("a lease of %d words for %d partitions", n, partitions))
	}
	if d.err == nil {
		r.cover = make(bitset, n)
		for i := range r.cover {
			if len(d.b) < 8 {
				d.fail("lease cover")
				break
			}
			r.cover[i] = binary.LittleEndian.Uint64(d.b)
			d.b = d.b[8:]
		}
	}
	for _, p := range r.dirty {
		if p >= partitions {
			d.fail(fmt.Sprintf("dirty partition %d of %d", p, partitions))
		}
	}
	return r, d.done("lease reply")
}

// handleLease grants the asking backup a read lease, if this node may
// (see the top of this file); the request is the asker's table
// fingerprint.
func (s *Store) handleLease(ctx context.Context, body []byte) ([]byte, error) {
	print, r, err := numberFrom(ctx, body, "lease request")
	if err != nil {
		return nil, err
	}
	t := s.Table()
	var reply leaseReply
	m, member := t.Member(r.Name)
	if s.cfg.ReadLease <= 0 || !member || t.Fingerprint() != print || !s.ready.Load() || s.draining.Load() ||
		s.closed.Load() || !s.quorate() || s.isolated() || s.checkPending() {
		return reply.marshal(), nil
	}
	g := &s.grantor
	g.mu.Lock()
	defer g.mu.Unlock()
	// Under g.mu: a puller registering now either sees this grant in
	// settle or is in registered.
	registered := s.receivers.registered(t, time.Now())
	l := g.lessee(r.Name)
	l.addr = m.Addr
	reply.epoch, reply.dirtyGen = l.epoch, l.dirtyGen
	for p := range l.dirty {
		reply.dirty = append(reply.dirty, p)
	}
	if l.revoking != nil {
		return reply.marshal(), nil
	}
	reply.cover = newBitset(t.Partitions())
	for p := range t.Partitions() {
		if primary, ok := t.backupOf(p, r.Name); ok && primary == s.name && s.holdings.holds(p) && !registered[p] {
			if _, missed := l.dirty[p]; !missed {
				reply.cover.add(p)
			}
		}
	}
	reply.granted = true
	now := s.mono()
	l.prune(now)
	l.grants = append(l.grants, grant{until: now + s.cfg.leaseSpan(), cover: reply.cover})
	return reply.marshal(), nil
}

// pulled records that the member named name pulled parts from this node
// completely: the ones still dirty at the generation they had when the
// pull began (gens) are clean again.
func (g *grantor) pulled(name string, parts []int, gens []uint64) {
	g.mu.Lock()
	defer g.mu.Unlock()
	l := g.by[name]
	if l == nil {
		return
	}
	for i, p := range parts {
		if gen, ok := l.dirty[p]; ok && gen == gens[i] {
			delete(l.dirty, p)
		}
	}
}

// dirtyGens returns, for each of parts, the generation at which it is
// dirty for name (0: clean).
func (g *grantor) dirtyGens(name string, parts []int) []uint64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	gens := make([]uint64, len(parts))
	if l := g.by[name]; l != nil {
		for i, p := range parts {
			gens[i] = l.dirty[p]
		}
	}
	return gens
}

// missed records that the member named name lacks a write of p.
func (g *grantor) missed(name string, p int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.markDirty(name, p)
}

// markDirty records that the member named name lacks a write of p.
func (g *grantor) markDirty(name string, p int) {
	g.gen++
	l := g.lessee(name)
	l.dirty[p], l.dirtyGen = g.gen, g.gen
}

// promoted records a table change for self: of the partitions self became
// the primary of, the backups that were backups before too keep their
// copies, but self does not know which writes of the old primary they
// missed; they are dirty until they pulled the partition from self.
func (g *grantor) promoted(old, next *Table, self string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for p := range next.Partitions() {
		if !next.IsPrimary(p, self) || old.IsPrimary(p, self) || p >= old.Partitions() {
			continue
		}
		top := next.top[p]
		for _, idx := range top[1:min(len(top), next.replicas)] {
			if name := next.members[idx].Name; old.IsOwner(p, name) && !old.IsPrimary(p, name) {
				g.markDirty(name, p)
			}
		}
	}
}

// returned records that the member named name appeared in table next
// without joining (it comes back from a split, or after this node lost
// sight of it): it missed every write made while it was away, so the
// partitions it backs up for self are dirty for it until it pulls them.
func (g *grantor) returned(next *Table, name, self string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for p := range next.Partitions() {
		if primary, ok := next.backupOf(p, name); ok && primary == self {
			g.markDirty(name, p)
		}
	}
}

// forget drops what a member that left the table had.
func (g *grantor) forget(name string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if l := g.by[name]; l != nil && l.revoking == nil {
		delete(g.by, name)
	}
}

// held is a lease this node holds from a primary.
type held struct {
	print uint64        // the table fingerprint it was granted under
	until time.Duration // mono(); usable before it
	cover bitset
}

// leases is the backup's side: the leases it holds, by grantor.
type leases struct {
	mu       sync.Mutex
	from     map[string]*held
	minEpoch map[string]uint64 // per grantor: the newest revocation's epoch
	seenGen  map[string]uint64 // per grantor: the newest dirtying acted on
	view     atomic.Pointer[map[string]*held]
	wanted   atomic.Int64 // mono() of the last load at a backup, give or take ReadLease/3 (want)
}

// leaseIdle is how long a node keeps asking for leases after the last load
// it got as a backup of the session's partition. A node that gets none
// (behind a sticky balancer every load reaches the session's primary; an
// idle cluster) asks for none, and its primaries grant none: at a lease
// every ReadLease/3 from each primary, the requests and the walks of the
// partitions they cost both sides were about half of an idle three-node
// cluster's CPU (BENCHMARKS.md).
const leaseIdle = 10 // times ReadLease

// want records a load at a backup at mono() now: renewLeases asks for
// leases for leaseIdle ReadLeases after it. The load path calls it on
// every such load, so it writes only when the last write is ReadLease/3
// old, not on every call.
func (ls *leases) want(now, readLease time.Duration) {
	if now-time.Duration(ls.wanted.Load()) >= readLease/3 {
		ls.wanted.Store(int64(now))
	}
}

// idle reports whether no load reached this node as a backup in the last
// leaseIdle ReadLeases. A node that just started is not idle: wanted
// starts at mono()'s zero.
func (ls *leases) idle(now, readLease time.Duration) bool {
	return now-time.Duration(ls.wanted.Load()) > leaseIdle*readLease
}

// publishLocked makes from what reads see.
func (ls *leases) publishLocked() {
	m := make(map[string]*held, len(ls.from))
	for k, v := range ls.from {
		m[k] = v
	}
	ls.view.Store(&m)
}

func (ls *leases) init() {
	ls.from, ls.minEpoch, ls.seenGen = map[string]*held{}, map[string]uint64{}, map[string]uint64{}
}

// dropAll stops reading with any lease.
func (ls *leases) dropAll() {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	clear(ls.from)
	ls.publishLocked()
}

// leased reports whether this node may serve a load of partition p from
// its own copy as a backup: it holds a live lease covering p from p's
// primary, granted under the table it has now, and holds p itself.
func (s *Store) leased(p int) bool {
	if s.cfg.ReadLease <= 0 {
		return false
	}
	t := s.Table()
	primary, ok := t.backupOf(p, s.name)
	if !ok {
		return false
	}
	now := s.mono()
	s.leases.want(now, s.cfg.ReadLease)
	m := s.leases.view.Load()
	if m == nil {
		return false
	}
	h := (*m)[primary]
	return h != nil && h.print == t.Fingerprint() && now < h.until && h.cover.has(p) &&
		s.holdings.holds(p) && s.ready.Load() && !s.draining.Load() && !s.isolated() && !s.checkPending()
}

// renewLeases asks the primary of every partition this node is a backup
// of for a lease, in parallel; every ReadLease/3, unless no load reached
// this node as a backup for a while (leaseIdle).
func (s *Store) renewLeases() {
	t := s.Table()
	if !s.ready.Load() || s.draining.Load() || s.closed.Load() || s.leases.idle(s.mono(), s.cfg.ReadLease) {
		s.leases.dropAll()
		return
	}
	grantors := map[string]Member{}
	for p := range t.Partitions() {
		if primary, ok := t.backupOf(p, s.name); ok {
			if _, seen := grantors[primary]; !seen {
				grantors[primary], _ = t.Member(primary)
			}
		}
	}
	var wg sync.WaitGroup
	for _, m := range grantors {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.askLease(t, m)
		}()
	}
	wg.Wait()
	s.leases.mu.Lock()
	for name := range s.leases.from {
		if _, ok := grantors[name]; !ok {
			delete(s.leases.from, name)
		}
	}
	s.leases.publishLocked()
	s.leases.mu.Unlock()
}

// askLease asks m for a lease under table t.
func (s *Store) askLease(t *Table, m Member) {
	sent := s.mono()
	resp, err := s.callWithin(s.bg, s.cfg.ReadLease, m.Addr, opLease, binary.AppendUvarint(nil, t.Fingerprint()))
	var r leaseReply
	if err == nil {
		r, err = parseLeaseReply(resp, t.Partitions())
	}
	ls := &s.leases
	ls.mu.Lock()
	defer ls.mu.Unlock()
	if err != nil || r.epoch < ls.minEpoch[m.Name] {
		delete(ls.from, m.Name)
		return
	}
	if r.dirtyGen > ls.seenGen[m.Name] {
		// Missed writes: pull those partitions again (the mover).
		ls.seenGen[m.Name] = r.dirtyGen
		s.holdings.drop(r.dirty)
		s.kickMover()
	}
	if !r.granted || s.Table().Fingerprint() != t.Fingerprint() {
		delete(ls.from, m.Name)
		return
	}
	registered := s.receivers.registered(t, time.Now())
	for p, reg := range registered {
		if reg && r.cover.has(p) {
			r.cover.remove(p)
		}
	}
	ls.from[m.Name] = &held{print: t.Fingerprint(), until: sent + s.cfg.ReadLease, cover: r.cover}
}

// handleRevoke ends the leases the sender gave this node.
func (s *Store) handleRevoke(ctx context.Context, body []byte) ([]byte, error) {
	epoch, r, err := numberFrom(ctx, body, "revocation")
	if err != nil {
		return nil, err
	}
	ls := &s.leases
	ls.mu.Lock()
	defer ls.mu.Unlock()
	ls.minEpoch[r.Name] = max(ls.minEpoch[r.Name], epoch)
	delete(ls.from, r.Name)
	ls.publishLocked()
	return nil, nil
}

// numberFrom decodes the one number a lease request or a revocation
// carries, and the member it came from (its connection's name).
func numberFrom(ctx context.Context, body []byte, what string) (uint64, peer.Remote, error) {
	d := reader{b: body}
	n := d.uvarint()
	if err := d.done(what); err != nil {
		return 0, peer.Remote{}, err
	}
	r, ok := peer.FromContext(ctx)
	if !ok {
		return 0, peer.Remote{}, fmt.Errorf("%w: a %s without a sender", ErrBadMessage, what)
	}
	return n, r, nil
}

// inflowAll is inflow for a batch of records from the member named from,
// once per partition.
func (s *Store) inflowAll(ctx context.Context, recs []session.Record, from string) error {
	if s.cfg.ReadLease <= 0 || len(recs) == 0 {
		return nil
	}
	t := s.Table()
	seen := map[int]bool{}
	var parts []int
	for i := range recs {
		if !session.ValidID(recs[i].ID) {
			continue // merge refuses it
		}
		if p := t.Partition(recs[i].ID); !seen[p] {
			seen[p] = true
			parts = append(parts, p)
		}
	}
	return s.inflow(ctx, from, parts...)
}
