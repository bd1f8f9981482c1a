package cluster

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"time"

	"github.com/sessionmesh/sessionmesh/session"
)

// The wire format of every peer operation: its request and its reply, in
// this file; the handler of each is in handler.go. Integers are varints
// unless said otherwise, strings and byte strings are length-prefixed,
// times are Unix nanoseconds (0 for the zero time), records are
// session.Record.AppendBinary. Errors travel as peer.RemoteError codes
// (route.go: toRemote, fromRemote). A request that names its sender
// (opPull, opMember, opSeen) is served only on that node's own connection
// (checkSender): the peer hello binds a connection to a node name.
//
//	op          request                         reply
//	opLoad      routed (header, id)             record reply (marshalFound: found,
//	                                            the record without its ID)
//	opSave      routed (header, id, patch)      empty; with flagKeep, when the
//	                                            sender is to keep its copy itself,
//	                                            a record reply (the record written)
//	opDelete    routed (header, id)             empty
//	opInstall   routed (header, id, record)     empty
//	opPut       putReq (hint, id, record        flag: stored
//	            without its ID)
//	opFetch     fetchReq (id)                   record reply
//	opCount     empty                           countReply
//	opPull      pullReq (register, name, addr,  number: sessions streamed
//	            partitions)                     (as opMerge batches meanwhile)
//	opMerge     record batch                    number: sessions stored
//	opDigest    digests (partition, sum)        partitions that differ
//	opMember    memberReq (name, metadata)      flag: the member is known
//	opSeen      seenReq (name)                  seenReply
//	opUser      principalReq (principal)        principalReply (IDs, partitions held)
//	opTally     empty                           count, then (partition, live sessions) pairs
//	                                            for the partitions held (count.go)
//	opKeys      partitions lo, hi               principalReply: the IDs held in them, the
//	                                            ones held completely (iterate.go)
//	opLease     table fingerprint               leaseReply (granted, epoch, dirty, cover)
//	opRevoke    epoch                           empty

// Peer operations. The first four are routed to a partition's primary (or,
// on failover, the next live replica); the rest go to one named node.
const (
	opLoad    uint8 = iota + 1 // read a session at its primary
	opSave                     // apply a patch at the primary, replicate, ack after N copies
	opDelete                   // tombstone a session at the primary, replicate
	opInstall                  // store a whole record (the new ID of a renew) at its primary, replicate
	opPut                      // replicate: store a record copy where it wins (with a hint when standing in)
	opFetch                    // read this node's copy, tombstones included (repair)
	opCount                    // how many sessions this node holds (Status)
	opPull                     // stream the sessions of some partitions to the caller (opMerge batches)
	opMerge                    // store a batch of records where they win (transfers, hand-off, repair)
	opDigest                   // compare per-partition digests (anti-entropy)
	opMember                   // a member's new metadata, sent directly so tables change at once
	opSeen                     // how long a node has been a member here (pause check)
	opUser                     // the sessions of a principal (a user) this node holds (principals.go)
	opTally                    // live sessions per partition this node holds (count.go)
	opKeys                     // the IDs this node holds in a range of partitions (iterate.go)
	opLease                    // a backup asks its primary for a read lease (leases.go)
	opRevoke                   // a primary ends the read leases it gave the callee (leases.go)
)

// Error codes of peer.RemoteError, turned back into sentinels by the caller.
const (
	codeNotFound uint16 = iota + 1
	codeTooLarge
	codeRedirect // Msg is the peer address of the primary in the callee's table
	codeNotOwner
	codeClosed
	codeBadMessage
	codeUnavailable
	codeInvalidID
	codeNoQuorum
	codeNotSynced
	codeDeadline // the request's deadline passed before the write was applied
	codeFull     // the node is at its bounds (session.ErrFull)
)

// Request flags.
const (
	// flagFailover: the sender skipped replicas that did not answer; a
	// replica that is not the primary in its own table serves anyway.
	flagFailover uint8 = 1 << iota
	// flagRedirected: this is the one redirect a request may take; the
	// callee serves it if it replicates the partition, never redirects.
	flagRedirected
	// flagSilent (with flagFailover): none of the replicas the sender
	// skipped answered at all, so the callee need not ask them for their
	// copies. Without it, one declined (a draining node, or one whose
	// table differs) and still holds what it held.
	flagSilent
	// flagKeep (opSave of an existing session): the sender is an owner of
	// the partition in its own table and will keep the write's copy
	// itself. A callee whose table has the sender among the owners
	// leaves it out of the replication, counts it as a copy, and answers
	// with the record it wrote, which the sender stores as it would a
	// put before it acknowledges (see Store.saveRemote).
	flagKeep
	// flagRelay (a write): the sender's connection to the primary failed,
	// so it asks the callee to send the request on to the primary in the
	// callee's table (Store.relay) rather than serve it, so that a primary
	// that only the sender cannot reach stays the one writer.
	flagRelay
)

// header starts every routed request: the sender's flags, the
// fingerprint of its table, so a callee whose table differs can redirect,
// and the request's deadline, so the callee applies no write after it
// (session.CheckDeadline). The deadline goes both as a time and as what
// was left of it at sending, and the callee keeps the earlier of the two
// (callDeadline): the time alone trusts the clocks to agree; the budget
// alone restarts in a callee that was paused with the request waiting in
// its socket, and a write it then applies overwrites whatever the
// client's retry wrote meanwhile.
type header struct {
	flags    uint8
	print    uint64
	budget   time.Duration // 0: no deadline
	deadline int64         // unix nanoseconds; with budget
}

// setDeadline copies ctx's deadline into h.
func (h *header) setDeadline(ctx context.Context) {
	h.budget, h.deadline = 0, 0
	if dl, ok := ctx.Deadline(); ok {
		h.budget, h.deadline = max(time.Until(dl), time.Nanosecond), dl.UnixNano()
	}
}

// callDeadline returns the deadline a callee applies, if any: the
// earlier of the sender's time and the budget counted from now.
func (h *header) callDeadline() (time.Time, bool) {
	if h.budget <= 0 {
		return time.Time{}, false
	}
	dl := time.Now().Add(h.budget)
	if at := time.Unix(0, h.deadline); at.Before(dl) {
		dl = at
	}
	return dl, true
}

// routed is the request of opLoad, opSave, opDelete and opInstall.
type routed struct {
	header
	from  string         // the sender's node name, from its connection (not sent); "" in-process
	id    string         // the session ID (the token; "" to create)
	patch session.Patch  // opSave
	rec   session.Record // opInstall
}

// putReq is the request of opPut: a copy of one session.
type putReq struct {
	hint string // the owner this copy stands in for; "" for a real replica
	id   string
	data []byte // the record's binary form without its ID
}

func (r *routed) marshal(op uint8) []byte {
	b := []byte{r.flags}
	b = binary.AppendUvarint(b, r.print)
	b = binary.AppendUvarint(b, uint64(max(r.budget, 0)))
	b = binary.AppendVarint(b, r.deadline)
	b = appendStr(b, r.id)
	switch op {
	case opSave:
		b = appendPatch(b, &r.patch)
	case opInstall:
		b = r.rec.AppendBinary(b)
	}
	return b
}

func parseRouted(op uint8, b []byte) (routed, error) {
	d := reader{b: b}
	var r routed
	r.flags = d.byte()
	r.print = d.uvarint()
	r.budget = time.Duration(min(d.uvarint(), math.MaxInt64))
	r.deadline = d.varint()
	r.id = d.str()
	switch op {
	case opSave:
		r.patch = d.patch()
	case opInstall:
		d.record(&r.rec)
	}
	return r, d.done("routed request")
}

func (p *putReq) marshal() []byte {
	b := make([]byte, 0, 2+len(p.hint)+len(p.id)+len(p.data)+2*binary.MaxVarintLen16)
	return append(appendStr(appendStr(b, p.hint), p.id), p.data...)
}

// parsePut decodes an opPut request; data aliases b.
func parsePut(b []byte) (putReq, error) {
	d := reader{b: b}
	p := putReq{hint: d.str(), id: d.str()}
	p.data = d.anonymous()
	return p, d.done("put")
}

// A record reply (opLoad, opFetch) is one byte (1 found, 0 not) and, when
// found, the record's binary form without its ID (the caller named it).
func marshalFound(data []byte, found bool) []byte {
	if !found {
		return []byte{0}
	}
	return append(append(make([]byte, 0, 1+len(data)), 1), data...)
}

// parseFound decodes a record reply; data aliases b.
func parseFound(b []byte) (data []byte, found bool, err error) {
	d := reader{b: b}
	if found = d.byte() == 1; found {
		data = d.anonymous()
	}
	return data, found, d.done("record reply")
}

// decodeFound is the record of session id whose binary form (without the
// ID) a record reply carried.
func decodeFound(id string, data []byte) (session.Record, error) {
	var rec session.Record
	if err := rec.UnmarshalBinary(data); err != nil {
		return session.Record{}, fmt.Errorf("%w: record of %.50q: %v", ErrBadMessage, id, err)
	}
	rec.ID = id
	return rec, nil
}

func appendPatch(b []byte, p *session.Patch) []byte {
	b = appendStr(b, p.NewID)
	b = append(b, boolByte(p.Clear))
	b = binary.AppendUvarint(b, uint64(len(p.Set)))
	for k, v := range p.Set {
		b = appendStr(appendStr(b, k), string(v))
	}
	b = binary.AppendUvarint(b, uint64(len(p.Delete)))
	for _, k := range p.Delete {
		b = appendStr(b, k)
	}
	b = binary.AppendVarint(b, nanos(p.Now))
	b = binary.AppendVarint(b, int64(p.Idle))
	b = binary.AppendVarint(b, int64(p.Lifetime))
	if p.Expires.IsZero() {
		// Only a request that changed the session's timeouts sets
		// Expires. Without it the patch is what nodes of the version
		// before Expires send and read, so a rolling upgrade keeps
		// saving; with it, such a node refuses the save (trailing bytes)
		// rather than drop the new deadline. A patch ends its message.
		return b
	}
	return binary.AppendVarint(b, nanos(p.Expires))
}

func (d *reader) patch() session.Patch {
	p := session.Patch{NewID: d.str(), Clear: d.byte() == 1}
	if n := d.count(2); n > 0 { // a key and a value
		p.Set = make(map[string][]byte, min(n, maxPresize))
		for i := 0; i < n; i++ {
			k := d.str()
			p.Set[k] = []byte(d.str())
		}
	}
	for n, i := d.count(1), 0; i < n; i++ {
		p.Delete = append(p.Delete, d.str())
	}
	p.Now = fromNanos(d.varint())
	p.Idle, p.Lifetime = time.Duration(d.varint()), time.Duration(d.varint())
	if len(d.b) > 0 { // Expires, only when set (appendPatch): a patch ends its message
		p.Expires = fromNanos(d.varint())
	}
	return p
}

func appendStr(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func boolByte(v bool) byte {
	if v {
		return 1
	}
	return 0
}

// reader decodes peer messages; the first error sticks and later reads
// return zero values, so a parser checks once, in done.
type reader struct {
	b   []byte
	err error
}

func (d *reader) fail(what string) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: %s", ErrBadMessage, what)
	}
	d.b = nil
}

func (d *reader) byte() byte {
	if len(d.b) == 0 {
		d.fail("truncated")
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *reader) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail("bad uvarint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

// int reads a uvarint that must fit an int.
func (d *reader) int() int {
	v := d.uvarint()
	if v > math.MaxInt {
		d.fail("number out of range")
		return 0
	}
	return int(v)
}

func (d *reader) varint() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail("bad varint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

// count reads a number of items, each of at least minSize bytes, that
// must fit in what is left of the message: a count that the bytes cannot
// hold fails before anything is allocated for it. (Counting one byte per
// item, as it once did, let a 2 MB batch claiming 2 million records
// allocate 264 MiB of them up front: audit L1.)
func (d *reader) count(minSize int) int {
	n := d.uvarint()
	if n > uint64(len(d.b)/minSize) {
		d.fail(fmt.Sprintf("count %d exceeds what %d bytes hold", n, len(d.b)))
		return 0
	}
	return int(n)
}

// maxPresize bounds the entries a decoder makes room for in a map before
// it has read them; a bigger map grows as its entries decode. A map entry
// takes some 50 bytes for an item of 2 (an empty key and value), so sizing
// a map for a count, even one its bytes could hold, would let a message
// of repeated empty pairs allocate 25 times its size for a map of one
// entry. A slice is sized for its count (which count bounds by the bytes
// left), as the items it holds are few times their encoded size, and
// growing it instead would allocate up to five times its final size.
const maxPresize = 256

func (d *reader) str() string {
	n := d.uvarint()
	if n > uint64(len(d.b)) {
		d.fail("string exceeds message")
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

// record decodes the rest of the message as a record.
func (d *reader) record(rec *session.Record) {
	if d.err != nil {
		return
	}
	if err := rec.UnmarshalBinary(d.b); err != nil {
		d.err = fmt.Errorf("%w: %v", ErrBadMessage, err)
	}
	d.b = nil
}

// anonymous takes the rest of the message as a record's binary form
// without its ID; only its header is checked here.
func (d *reader) anonymous() []byte {
	if d.err != nil {
		return nil
	}
	var h session.Record
	if err := h.UnmarshalHeader(d.b); err != nil || h.ID != "" {
		d.fail("not a record without its ID")
		return nil
	}
	data := d.b
	d.b = nil
	return data
}

func (d *reader) done(what string) error {
	if d.err == nil && len(d.b) != 0 {
		d.fail(fmt.Sprintf("%d trailing bytes", len(d.b)))
	}
	if d.err != nil {
		return fmt.Errorf("cluster: decode %s: %w", what, d.err)
	}
	return nil
}

// nanos and fromNanos carry a time as Unix nanoseconds, the zero time as 0.
func nanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromNanos(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n)
}

// pullReq is the request of opPull: stream the sessions of parts to the
// node named name at addr. With register set, the source also forwards
// the writes it applies to those partitions until the puller owns them.
type pullReq struct {
	register bool
	name     string
	addr     string
	parts    []int
}

func (r *pullReq) marshal() []byte {
	b := []byte{boolByte(r.register)}
	b = appendStr(appendStr(b, r.name), r.addr)
	return appendInts(b, r.parts)
}

func parsePull(b []byte) (pullReq, error) {
	d := reader{b: b}
	r := pullReq{register: d.byte() == 1, name: d.str(), addr: d.str()}
	r.parts = d.ints()
	return r, d.done("pull")
}

// appendInts appends a count and the (non-negative) ints.
func appendInts(b []byte, v []int) []byte {
	b = binary.AppendUvarint(b, uint64(len(v)))
	for _, x := range v {
		b = binary.AppendUvarint(b, uint64(x))
	}
	return b
}

// maxPartitions is the most partitions a Config allows; a partition read
// from the wire beyond it fails to decode, so no handler indexes with a
// huge or (converted) negative int.
const maxPartitions = 1 << 16

// ints reads what appendInts wrote; a value beyond maxPartitions fails.
func (d *reader) ints() []int {
	n := d.count(1)
	if n > maxPartitions {
		d.fail(fmt.Sprintf("%d partitions, more than there can be", n))
		return nil
	}
	out := make([]int, 0, n)
	for i := 0; i < n && d.err == nil; i++ {
		v := d.uvarint()
		if v > maxPartitions {
			d.fail(fmt.Sprintf("partition %d out of range", v))
			break
		}
		out = append(out, int(v))
	}
	return out
}

// A record batch (opMerge) is a count and length-prefixed records.
func appendRecord(b []byte, rec *session.Record) []byte {
	var scratch [512]byte
	enc := rec.AppendBinary(scratch[:0])
	b = binary.AppendUvarint(b, uint64(len(enc)))
	return append(b, enc...)
}

// minRecordSize is the fewest bytes a record takes in binary form.
var minRecordSize = len((&session.Record{}).AppendBinary(nil))

func parseRecords(b []byte) ([]session.Record, error) {
	d := reader{b: b}
	n := d.count(1 + minRecordSize) // a length and a record
	recs := make([]session.Record, 0, n)
	for i := 0; i < n && d.err == nil; i++ {
		size := d.count(1) // the record's length in bytes
		if d.err != nil {
			break
		}
		var rec session.Record
		if err := rec.UnmarshalBinary(d.b[:size]); err != nil {
			d.err = fmt.Errorf("%w: record %d: %v", ErrBadMessage, i, err)
			break
		}
		d.b = d.b[size:]
		recs = append(recs, rec)
	}
	return recs, d.done("record batch")
}

// A digest request (opDigest) is a count of (partition, digest) pairs.
type digest struct {
	part int
	sum  uint64
}

func appendDigests(b []byte, ds []digest) []byte {
	b = binary.AppendUvarint(b, uint64(len(ds)))
	for _, x := range ds {
		b = binary.AppendUvarint(b, uint64(x.part))
		b = binary.BigEndian.AppendUint64(b, x.sum)
	}
	return b
}

func parseDigests(b []byte) ([]digest, error) {
	d := reader{b: b}
	n := d.count(1 + 8) // a partition and a sum
	if n > maxPartitions {
		d.fail(fmt.Sprintf("%d digests, more than there are partitions", n))
		return nil, d.done("digests")
	}
	out := make([]digest, 0, n)
	for i := 0; i < n && d.err == nil; i++ {
		p := d.uvarint()
		if p > maxPartitions {
			d.fail(fmt.Sprintf("partition %d out of range", p))
			break
		}
		x := digest{part: int(p)}
		if len(d.b) < 8 {
			d.fail("truncated digest")
			break
		}
		x.sum = binary.BigEndian.Uint64(d.b)
		d.b = d.b[8:]
		out = append(out, x)
	}
	return out, d.done("digests")
}

// memberReq is the request of opMember.
type memberReq struct {
	name string
	meta nodeMeta
}

func (r *memberReq) marshal() []byte {
	b := appendStr(nil, r.name)
	b = appendStr(b, r.meta.Peer)
	b = append(b, boolByte(r.meta.Draining), boolByte(r.meta.Joining), boolByte(r.meta.Left))
	return binary.AppendUvarint(b, r.meta.Seq)
}

func parseMember(b []byte) (memberReq, error) {
	d := reader{b: b}
	r := memberReq{name: d.str()}
	r.meta = nodeMeta{Version: metaVersion, Peer: d.str(), Draining: d.byte() == 1, Joining: d.byte() == 1, Left: d.byte() == 1}
	r.meta.Seq = d.uvarint()
	return r, d.done("member")
}

// fetchReq is the request of opFetch: a session ID. The reply is a record
// reply (marshalFound).
type fetchReq struct{ id string }

func (r *fetchReq) marshal() []byte { return appendStr(nil, r.id) }

func parseFetch(b []byte) (fetchReq, error) {
	d := reader{b: b}
	r := fetchReq{id: d.str()}
	return r, d.done("fetch")
}

// countReply is the reply of opCount (whose request is empty): what a node
// holds, for Status.
type countReply struct {
	live, tombstones int
	at               time.Time // when the last full scan counted them
	hinted           int
	underReplicated  int
	conflicts        uint64
	ready            bool
	evictions        uint64
	refused          uint64
	bytes            int64 // what its sessions hold in memory; -1: an older node did not say
}

func (r countReply) marshal() []byte {
	b := binary.AppendUvarint(nil, uint64(r.live))
	b = binary.AppendUvarint(b, uint64(r.tombstones))
	b = binary.AppendVarint(b, nanos(r.at))
	b = binary.AppendUvarint(b, uint64(r.hinted))
	b = binary.AppendUvarint(b, uint64(r.underReplicated))
	b = binary.AppendUvarint(b, r.conflicts)
	b = append(b, boolByte(r.ready))
	b = binary.AppendUvarint(b, r.evictions)
	b = binary.AppendUvarint(b, r.refused)
	return binary.AppendUvarint(b, uint64(r.bytes))
}

func parseCount(b []byte) (countReply, error) {
	d := reader{b: b}
	r := countReply{live: d.int(), tombstones: d.int(), at: fromNanos(d.varint()), hinted: d.int()}
	r.underReplicated, r.conflicts, r.ready = d.int(), d.uvarint(), d.byte() == 1
	r.evictions, r.refused, r.bytes = d.uvarint(), d.uvarint(), -1
	if len(d.b) > 0 { // a node of this version or later: bytes follow
		r.bytes = int64(d.int())
	}
	return r, d.done("count")
}

// seenReq is the request of opSeen: the name of the node asking.
type seenReq struct{ name string }

func (r *seenReq) marshal() []byte { return appendStr(nil, r.name) }

func parseSeen(b []byte) (seenReq, error) {
	d := reader{b: b}
	r := seenReq{name: d.str()}
	return r, d.done("seen")
}

// seenReply answers opSeen: how long the asking node has been a member at
// the callee without a break (0: not a member) and the fingerprint of the
// callee's table.
type seenReply struct {
	memberFor time.Duration
	print     uint64
}

func (r *seenReply) marshal() []byte {
	b := binary.AppendUvarint(nil, uint64(max(r.memberFor, 0)))
	return binary.AppendUvarint(b, r.print)
}

func parseSeenReply(b []byte) (seenReply, error) {
	d := reader{b: b}
	r := seenReply{memberFor: time.Duration(min(d.uvarint(), math.MaxInt64)), print: d.uvarint()}
	return r, d.done("seen reply")
}

// A number reply (opPull: sessions streamed; opMerge: sessions stored).
func marshalNumber(n int) []byte { return binary.AppendUvarint(nil, uint64(n)) }

func parseNumber(b []byte) (int, error) {
	d := reader{b: b}
	n := d.int()
	return n, d.done("number")
}

// A flag reply (opPut: the copy was stored; opMember: the member is known).
func marshalFlag(v bool) []byte { return []byte{boolByte(v)} }

// A digest reply (opDigest) is the partitions whose digests differ.
func marshalDiffer(parts []int) []byte { return appendInts(nil, parts) }

func parseDiffer(b []byte) ([]int, error) {
	d := reader{b: b}
	parts := d.ints()
	return parts, d.done("digest reply")
}

// principalReq is the request of opUser: a principal.
type principalReq struct{ principal string }

func (r *principalReq) marshal() []byte { return appendStr(nil, r.principal) }

func parsePrincipal(b []byte) (principalReq, error) {
	d := reader{b: b}
	r := principalReq{principal: d.str()}
	return r, d.done("principal")
}

// principalReply is the reply of opUser: the IDs of the live copies
// of the principal's sessions the node holds, and the partitions it holds
// completely (holdings), which tell the caller whether the answers it got
// cover every session (principals.go).
type principalReply struct {
	ids  []string
	held []int
}

func (r *principalReply) marshal() []byte {
	b := binary.AppendUvarint(nil, uint64(len(r.ids)))
	for _, id := range r.ids {
		b = appendStr(b, id)
	}
	return appendInts(b, r.held)
}

func parsePrincipalReply(b []byte) (principalReply, error) {
	d := reader{b: b}
	var r principalReply
	r.ids = make([]string, 0, d.count(1+session.IDLen)) // each ID is one
	for i := cap(r.ids); i > 0 && d.err == nil; i-- {
		if id := d.str(); session.ValidID(id) {
			r.ids = append(r.ids, id)
		} else {
			d.fail("not a session ID")
		}
	}
	r.held = d.ints()
	return r, d.done("principal reply")
}
