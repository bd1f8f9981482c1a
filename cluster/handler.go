package cluster

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/sessionmesh/sessionmesh/cluster/peer"
	"github.com/sessionmesh/sessionmesh/internal/lazyctx"
	"github.com/sessionmesh/sessionmesh/session"
)

// handle is the peer.Handler: it decodes a request from another node and
// runs it. Errors go back as *peer.RemoteError codes (toRemote).
func (s *Store) handle(ctx context.Context, op uint8, body []byte) ([]byte, error) {
	s.contact() // another member reached this one (pause.go)
	resp, err := s.dispatch(ctx, op, body)
	if err != nil {
		return nil, toRemote(err)
	}
	return resp, nil
}

func (s *Store) dispatch(ctx context.Context, op uint8, body []byte) ([]byte, error) {
	switch op {
	case opLoad, opSave, opDelete, opInstall:
		req, err := parseRouted(op, body)
		if err != nil {
			return nil, err
		}
		if r, ok := peer.FromContext(ctx); ok {
			req.from = r.Name // the peer hello bound the connection to it
		}
		if dl, ok := req.callDeadline(); ok {
			bounded := lazyctx.New(ctx, dl) // no timer unless something waits on it
			defer bounded.End()
			ctx = bounded
		}
		if req.flags&flagRelay != 0 && op != opLoad {
			return s.relay(ctx, op, req)
		}
		return s.serve(ctx, op, req)
	case opPut:
		return s.handlePut(ctx, body)
	case opFetch:
		return s.handleFetch(body)
	case opCount:
		return s.counts().marshal(), nil
	case opPull:
		return s.handlePull(ctx, body)
	case opMerge:
		return s.handleMerge(ctx, body)
	case opDigest:
		return s.handleDigest(body)
	case opMember:
		return s.handleMember(ctx, body)
	case opSeen:
		return s.handleSeen(ctx, body)
	case opUser:
		return s.handlePrincipal(body)
	case opTally:
		return s.handleTally()
	case opKeys:
		return s.handleKeys(body)
	case opLease:
		return s.handleLease(ctx, body)
	case opRevoke:
		return s.handleRevoke(ctx, body)
	}
	return nil, fmt.Errorf("%w: unknown op %d", ErrBadMessage, op)
}

// inline is the node's peer.Config.Inline: the requests served on the
// goroutine that read them, because they wait on nothing. They are the
// hops of a session's requests: a load at the partition's authority (an
// engine read), a copy to a backup (an engine write) and a repair's fetch.
// A load anywhere else may ask the other replicas (local), a put with a
// hint hands its copy back (handBackNow), and a put at the partition's
// primary may wait for a read lease it granted to end (settle): those, and
// every other request, go to a handler goroutine, as does a copy to a
// backup while this node still has a read lease out on the partition from
// an earlier table (it would wait the same way; two nodes each waiting
// inline for the other's revocation would hold up both connections until
// the leases ran out). One wait remains possible inline, rare and bounded:
// a load right after this process stalled waits for the pause check
// (afterPause, CallTimeout).
func (s *Store) inline(op uint8, body []byte) bool {
	switch op {
	case opLoad:
		req, err := parseRouted(op, body)
		if err != nil {
			return true // answered at once with the error
		}
		t := s.Table()
		return req.flags == 0 && s.authority(t, t.Partition(req.id))
	case opPut:
		req, err := parsePut(body)
		if err != nil || !session.ValidID(req.id) {
			return true // refused at once
		}
		if req.hint != "" {
			return false
		}
		t := s.Table()
		p := t.Partition(req.id)
		return !t.IsPrimary(p, s.name) && !s.grantor.leasedOut(p, s.mono())
	case opFetch:
		return true
	}
	return false
}

// handlePut stores a replica (or hinted) copy unless this node's copy
// wins over it (merge), which counts as holding it. A draining node
// refuses (accept). A hinted copy is handed to its owner at once when the
// owner answers (handBackNow).
func (s *Store) handlePut(ctx context.Context, body []byte) ([]byte, error) {
	req, err := parsePut(body)
	if err != nil {
		return nil, err
	}
	stored, err := s.takeCopy(ctx, "put", sender(ctx), req.id, req.data)
	if err != nil {
		return nil, err
	}
	if req.hint != "" {
		s.hints.add(req.hint, req.id)
		s.handBackNow(ctx, req.hint, req.id)
	}
	return marshalFlag(stored), nil
}

// takeCopy stores a replica copy of session id (binary form without the
// ID), sent by the member named from, unless this node's copy wins over
// it, and reports whether it was stored: a put, or the copy a save kept
// (flagKeep). A draining node refuses (accept). The read leases this
// node gave that the copy makes stale end first (inflow).
func (s *Store) takeCopy(ctx context.Context, what, from, id string, data []byte) (bool, error) {
	done, err := s.accept(what)
	if err != nil {
		return false, err
	}
	defer done()
	if session.ValidID(id) {
		if err := s.inflow(ctx, from, s.Table().Partition(id)); err != nil {
			return false, err
		}
	}
	return s.mergeBinary(id, data)
}

// sender is the name of the member whose connection ctx's request came
// on ("" in-process).
func sender(ctx context.Context) string {
	r, _ := peer.FromContext(ctx)
	return r.Name
}

// handleFetch returns this node's copy of a session, tombstones included,
// without ownership checks: it serves repair, not clients.
func (s *Store) handleFetch(body []byte) ([]byte, error) {
	req, err := parseFetch(body)
	if err != nil {
		return nil, err
	}
	data, ok := s.engine.Peek(req.id) // a repair's read: not a use of the session
	return marshalFound(data, ok), nil
}

// handlePull serves a pull: register the puller (before the scan, so a
// write either lands in the scan or is copied to the puller), then stream.
func (s *Store) handlePull(ctx context.Context, body []byte) ([]byte, error) {
	req, err := parsePull(body)
	if err != nil {
		return nil, err
	}
	if err := checkSender(ctx, "pull", req.name); err != nil {
		return nil, err
	}
	want := make([]bool, s.cfg.Partitions)
	for _, p := range req.parts {
		if p >= len(want) {
			return nil, fmt.Errorf("%w: pull of partition %d of %d", ErrBadMessage, p, len(want))
		}
		want[p] = true
	}
	to := Member{Name: req.name, Addr: req.addr}
	if req.register {
		// The lease outlasts any join; it only ends copies to a puller
		// that died before gossip ever showed it here.
		s.receivers.add(to, req.parts, time.Now().Add(10*s.cfg.TransferTimeout))
		// No read lease may cover these partitions once the joiner serves
		// them (leases.go): from now on none is granted, and the ones
		// granted end before the stream starts.
		s.leases.dropAll()
		if err := s.settle(ctx, noLeases, false, req.parts...); err != nil {
			return nil, err
		}
	}
	gens := s.grantor.dirtyGens(req.name, req.parts)
	ctx, cancel := context.WithCancel(ctx)
	defer context.AfterFunc(s.bg, cancel)()
	defer cancel()
	n, err := s.stream(ctx, to, func(p int) bool { return want[p] })
	if err != nil {
		return nil, fmt.Errorf("stream to %s: %w", to.Name, err)
	}
	s.grantor.pulled(req.name, req.parts, gens)
	return marshalNumber(n), nil
}

// handleMerge stores every record of a batch that wins over this node's
// copy and answers how many did. A draining node refuses (accept).
func (s *Store) handleMerge(ctx context.Context, body []byte) ([]byte, error) {
	recs, err := parseRecords(body)
	if err != nil {
		return nil, err
	}
	done, err := s.accept("merge")
	if err != nil {
		return nil, err
	}
	defer done()
	if err := s.inflowAll(ctx, recs, sender(ctx)); err != nil {
		return nil, err
	}
	stored := 0
	var errs []error
	for i := range recs {
		ok, err := s.merge(&recs[i])
		if ok {
			stored++
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("merge %d of %d sessions failed: %w", len(errs), len(recs), err)
	}
	return marshalNumber(stored), nil
}

// handleDigest answers which of the sender's digests differ from this
// node's last round's, among the partitions worth comparing here.
func (s *Store) handleDigest(body []byte) ([]byte, error) {
	ds, err := parseDigests(body)
	if err != nil {
		return nil, err
	}
	dg := s.digests.Load()
	var differ []int
	for _, x := range ds {
		if x.part >= s.cfg.Partitions {
			return nil, fmt.Errorf("%w: digest of partition %d of %d", ErrBadMessage, x.part, s.cfg.Partitions)
		}
		if s.current(dg, x.part) && dg.sums[x.part] != x.sum {
			differ = append(differ, x.part)
		}
	}
	return marshalDiffer(differ), nil
}

// handleMember takes a member's new metadata, from that member only. A
// member that became ready first gets the hinted copies kept for it, so it
// does not serve without a write that was copied to it and failed.
func (s *Store) handleMember(ctx context.Context, body []byte) ([]byte, error) {
	req, err := parseMember(body)
	if err != nil {
		return nil, err
	}
	if err := checkSender(ctx, "member notice", req.name); err != nil {
		return nil, err
	}
	known, err := s.members.apply(req.name, req.meta)
	if err != nil {
		return nil, err
	}
	if m, ok := s.Table().Member(req.name); ok && !m.Joining && !m.Draining {
		s.handBack(ctx, m, s.hints.snapshot()[m.Name])
	}
	return marshalFlag(known), nil
}

// handleSeen answers how long the asking node has been a member here
// without a break (0: not a member), and this node's table fingerprint.
func (s *Store) handleSeen(ctx context.Context, body []byte) ([]byte, error) {
	req, err := parseSeen(body)
	if err != nil {
		return nil, err
	}
	if err := checkSender(ctx, "seen request", req.name); err != nil {
		return nil, err
	}
	reply := seenReply{memberFor: s.members.memberFor(req.name), print: s.Table().Fingerprint()}
	return reply.marshal(), nil
}

// checkSender refuses a request that names a member as its sender (opMember,
// opPull, opSeen) unless it came on that member's own connection. The peer
// handshake binds a connection to the name its client gave (peer.Remote),
// so a node speaks for itself only: before, any holder of the secret could
// rewrite another member's peer address for good (audit L3). A request
// without a Remote (not from a peer.Server) is refused as well.
func checkSender(ctx context.Context, what, name string) error {
	r, ok := peer.FromContext(ctx)
	if !ok || r.Name != name {
		return fmt.Errorf("%w: %s names %.64q as its sender but came on the connection of %.64q", ErrBadMessage, what, name, r.Name)
	}
	return nil
}

// handlePrincipal answers which sessions of a principal this node holds
// (principals.go).
func (s *Store) handlePrincipal(body []byte) ([]byte, error) {
	req, err := parsePrincipal(body)
	if err != nil {
		return nil, err
	}
	r, err := s.principalHere(req.principal)
	if err != nil {
		return nil, err
	}
	return r.marshal(), nil
}
