package cluster

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/sessionmesh/sessionmesh/cluster/peer"
	"github.com/sessionmesh/sessionmesh/internal/engine"
	"github.com/sessionmesh/sessionmesh/internal/lazyctx"
	"github.com/sessionmesh/sessionmesh/session"
)

// route sends a request to the primary of its session's partition. When
// the primary does not answer (refused, reset, timeout) it tries the next
// replicas in HRW order with flagFailover; they hold the data and serve
// as acting primary. A callee whose table says another node is primary
// answers with a redirect, which is followed once (flagRedirected): tables
// that disagree during a membership change cost one hop, never a loop.
func (s *Store) route(ctx context.Context, op uint8, req routed) ([]byte, error) {
	t := s.startingTable(ctx)
	p := t.Partition(req.routingID())
	targets := t.Candidates(p)
	req.print = t.Fingerprint()
	keep := req.flags & flagKeep // asked by the sender; the rest are route's
	lastErr := error(ErrUnavailable)
	silent := true // every replica tried so far did not answer at all
	for i, m := range targets {
		if err := session.CheckDeadline(ctx); err != nil {
			return nil, fmt.Errorf("partition %d: %w", p, err)
		}
		if i < len(targets)-1 && m.Addr != s.peerAddr && s.down.down(m.Name, s.mono()) {
			lastErr = fmt.Errorf("%s: %w: its connection failed just now", m.Name, peer.ErrUnavailable)
			if i == 0 {
				if resp, err, served := s.relayVia(ctx, t, p, m, op, req); served {
					return resp, err
				}
			}
			continue // as if it did not answer: silent stays as it is
		}
		req.setDeadline(ctx)
		req.flags = keep
		if i > 0 {
			req.flags |= flagFailover
			if silent {
				req.flags |= flagSilent
			}
		}
		resp, err := s.send(ctx, m.Addr, op, req)
		s.noteConnection(m.Name, err)
		if err == nil {
			return resp, nil
		}
		if i == 0 && connectionFailed(err) {
			if resp, err, served := s.relayVia(ctx, t, p, m, op, req); served {
				return resp, err
			}
		}
		if rd, ok := asRedirect(err); ok {
			silent = false
			req.flags |= flagRedirected
			resp, err = s.send(ctx, rd.addr, op, req)
		}
		if !failover(err) || ctx.Err() != nil {
			return resp, err
		}
		s.log.Debug("cluster: replica did not serve; trying the next", "partition", p, "replica", m.Name, "err", err)
		silent = silent && errors.Is(err, peer.ErrUnavailable)
		lastErr = err
	}
	return nil, noneServed(p, targets, lastErr)
}

// noneServed is route's error when no replica served: ErrUnavailable, as
// documented, whatever the last one said (a peer error of its connection,
// a node checking a pause), naming the replicas tried.
func noneServed(p int, tried []Member, last error) error {
	names := make([]string, len(tried))
	for i, m := range tried {
		names[i] = m.Name
	}
	if errors.Is(last, ErrUnavailable) {
		return fmt.Errorf("partition %d: none of %s served: %w", p, strings.Join(names, ", "), last)
	}
	return fmt.Errorf("partition %d: none of %s served: %w: %w", p, strings.Join(names, ", "), ErrUnavailable, last)
}

// relayVia asks another member to send write req on to primary, whose
// connection just failed here (refused, reset: a crash, or a route or a
// firewall rule that fails only this node's calls). Were this node to
// serve it on failover while the primary is alive and serves the others,
// two nodes would write the session at once, and of two writes given the
// same version one is lost. The first member in HRW order that is neither
// the primary nor this node relays it; served is false when it could not
// (the primary did not answer it either, or there is no such member), and
// the request fails over as before. A relayed save keeps no copy here: the
// primary replicates it here as to any owner.
func (s *Store) relayVia(ctx context.Context, t *Table, p int, primary Member, op uint8, req routed) (resp []byte, err error, served bool) {
	if op == opLoad {
		return nil, nil, false // a load on failover asks the replicas (recover)
	}
	order := t.Order(p)
	i := slices.IndexFunc(order, func(m Member) bool {
		return m.Name != primary.Name && m.Name != s.name && !s.down.down(m.Name, s.mono())
	})
	if i < 0 {
		return nil, nil, false
	}
	m := order[i]
	req.setDeadline(ctx)
	req.flags = flagRelay
	resp, err = s.call(ctx, m.Addr, op, req.marshal(op))
	if err == nil || !failover(err) {
		return resp, err, true
	}
	s.log.Debug("cluster: relay to the primary failed; failing over", "partition", p, "relay", m.Name, "err", err)
	return nil, nil, false
}

// relay sends a write another member could not deliver (flagRelay) on to
// the primary of its partition in this node's table, as a redirected
// request (never redirected again), and answers with the primary's
// answer. When this node is the primary, it serves the request itself.
// It relays only while its table is the sender's (the fingerprint in the
// request): during a membership change (a crash being noticed) the
// sender fails over as it would without a relay.
func (s *Store) relay(ctx context.Context, op uint8, req routed) ([]byte, error) {
	t := s.Table()
	if req.print != t.Fingerprint() {
		return nil, fmt.Errorf("relay on %s: its table differs from the sender's: %w", s.name, ErrUnavailable)
	}
	p := t.Partition(req.routingID())
	own := t.Owners(p)
	if len(own) == 0 {
		return nil, fmt.Errorf("partition %d: no members: %w", p, ErrUnavailable)
	}
	req.flags = flagRedirected
	if own[0].Name == s.name {
		return s.serve(ctx, op, req)
	}
	if s.down.down(own[0].Name, s.mono()) {
		return nil, fmt.Errorf("relay to %s: %w: its connection failed just now", own[0].Name, ErrUnavailable)
	}
	req.setDeadline(ctx)
	resp, err := s.call(ctx, own[0].Addr, op, req.marshal(op))
	s.noteConnection(own[0].Name, err)
	if errors.Is(err, peer.ErrUnavailable) {
		err = fmt.Errorf("relay to %s: %w: %w", own[0].Name, ErrUnavailable, err)
	}
	return resp, err
}

// noteConnection records what a routed call to member name said about its
// connection (downs.go): a failed connection marks it down, any answer
// (a redirect or a remote error included) clears that; a timeout does
// neither.
func (s *Store) noteConnection(name string, err error) {
	switch {
	case connectionFailed(err):
		s.down.mark(name, s.mono()+s.cfg.downFor())
	case !errors.Is(err, peer.ErrUnavailable):
		s.down.clear(name, s.mono())
	}
}

// asRedirect returns the redirect err carries. Only for an error: the
// target of errors.As escapes, an allocation per call.
func asRedirect(err error) (*redirectError, bool) {
	var rd *redirectError
	ok := errors.As(err, &rd)
	return rd, ok
}

// redirectError is a callee's answer to a request for a partition whose
// primary it is not: "ask addr". A request follows at most one.
type redirectError struct {
	partition int
	addr      string
}

func (e *redirectError) Error() string {
	return fmt.Sprintf("cluster: partition %d: primary is at %s", e.partition, e.addr)
}

// routingID is the session a routed request is about: the token, or the
// new ID of a session being created.
func (r *routed) routingID() string {
	if r.id == "" {
		return r.patch.NewID
	}
	return r.id
}

// startingTable returns the table, first waiting (up to CallTimeout) while
// it has no eligible member: a cluster's first node is about to announce
// itself ready.
func (s *Store) startingTable(ctx context.Context) *Table {
	if t := s.Table(); t.Eligible() > 0 {
		return t
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.CallTimeout)
	defer cancel()
	for {
		changed := s.TableChanged()
		t := s.Table()
		if t.Eligible() > 0 {
			return t
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return t
		}
	}
}

// failover reports whether err means "try another replica". A refused
// quorum does not: every replica on this side of a split would refuse.
func failover(err error) bool {
	if errors.Is(err, ErrNoQuorum) {
		return false
	}
	return errors.Is(err, peer.ErrUnavailable) || errors.Is(err, ErrUnavailable) ||
		errors.Is(err, ErrNotOwner) || errors.Is(err, ErrNotSynced) || errors.Is(err, session.ErrClosed)
}

// send runs one request at addr: in-process when addr is this node.
func (s *Store) send(ctx context.Context, addr string, op uint8, req routed) ([]byte, error) {
	if addr == s.peerAddr {
		return s.serve(ctx, op, req)
	}
	return s.call(ctx, addr, op, req.marshal(op))
}

// call sends one peer request bounded by CallTimeout and turns a remote
// error back into this package's errors.
func (s *Store) call(ctx context.Context, addr string, op uint8, body []byte) ([]byte, error) {
	return s.callWithin(ctx, s.cfg.CallTimeout, addr, op, body)
}

// callWithin is call bounded by timeout instead: transfers take
// TransferTimeout. Every peer call goes through it, so every answer counts
// as contact (pause.go) and every remote error comes back as a sentinel.
// The bound is a lazyctx.Ctx: the peer client looks at its Done only when
// an answer is slow, so a call that is answered arms no timer.
func (s *Store) callWithin(ctx context.Context, timeout time.Duration, addr string, op uint8, body []byte) ([]byte, error) {
	if dl, ok := ctx.Deadline(); !ok || time.Until(dl) > timeout {
		bounded := lazyctx.New(ctx, time.Now().Add(timeout))
		defer bounded.End()
		ctx = bounded
	}
	resp, err := s.caller.Call(ctx, addr, op, body)
	if err == nil {
		s.contact() // it answered
		return resp, nil
	}
	var re *peer.RemoteError // here, not above: it escapes, an allocation per call
	if errors.As(err, &re) {
		s.contact() // it answered, if only with an error
	}
	s.counters.notePeerError(err)
	return nil, fromRemote(err)
}

// remoteCodes pairs the sentinels that cross the wire with their codes.
var remoteCodes = []struct {
	code uint16
	err  error
}{
	{codeNotFound, session.ErrNotFound},
	{codeTooLarge, session.ErrTooLarge},
	{codeNotOwner, ErrNotOwner},
	{codeClosed, session.ErrClosed},
	{codeBadMessage, ErrBadMessage},
	{codeNoQuorum, ErrNoQuorum}, // before codeUnavailable, which it wraps
	{codeNotSynced, ErrNotSynced},
	{codeUnavailable, ErrUnavailable},
	{codeInvalidID, engine.ErrInvalidID},
	{codeDeadline, context.DeadlineExceeded},
	{codeFull, session.ErrFull},
}

// toRemote turns a serve error into the *peer.RemoteError sent back.
func toRemote(err error) error {
	var rd *redirectError
	if errors.As(err, &rd) {
		return peer.Errorf(codeRedirect, "%s", rd.addr)
	}
	for _, rc := range remoteCodes {
		if errors.Is(err, rc.err) {
			return peer.Errorf(rc.code, "%s", err.Error())
		}
	}
	return err
}

// fromRemote turns a *peer.RemoteError back into the sentinel it carries,
// keeping the remote text; transport errors pass through unchanged.
func fromRemote(err error) error {
	var re *peer.RemoteError
	if !errors.As(err, &re) {
		return err
	}
	if re.Code == codeRedirect {
		return &redirectError{addr: re.Msg}
	}
	for _, rc := range remoteCodes {
		if re.Code == rc.code {
			return fmt.Errorf("%w (remote: %s)", rc.err, re.Msg)
		}
	}
	return err
}
