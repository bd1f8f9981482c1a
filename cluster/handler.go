package cluster

import (
	"context"
	"encoding/binary"
	"fmt"
	"time"
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
		if dl, ok := req.callDeadline(); ok {
			var cancel context.CancelFunc
			ctx, cancel = context.WithDeadline(ctx, dl)
			defer cancel()
		}
		return s.serve(ctx, op, req)
	case opPut:
		return s.handlePut(body)
	case opFetch:
		return s.handleFetch(body)
	case opCount:
		return s.handleCount(), nil
	case opPull:
		return s.handlePull(ctx, body)
	case opMerge:
		return s.handleMerge(body)
	case opDigest:
		return s.handleDigest(body)
	case opMember:
		return s.handleMember(ctx, body)
	case opSeen:
		return s.handleSeen(body)
	}
	return nil, fmt.Errorf("%w: unknown op %d", ErrBadMessage, op)
}

// handlePut stores a replica (or hinted) copy unless this node's copy
// wins over it (merge), which counts as holding it. A draining node
// refuses (accept).
func (s *Store) handlePut(body []byte) ([]byte, error) {
	req, err := parsePut(body)
	if err != nil {
		return nil, err
	}
	done, err := s.accept("put")
	if err != nil {
		return nil, err
	}
	defer done()
	stored, err := s.merge(&req.rec)
	if err != nil {
		return nil, err
	}
	if req.hint != "" {
		s.hints.add(req.hint, req.rec.ID)
	}
	return []byte{boolByte(stored)}, nil
}

// handleFetch returns this node's copy of a session, tombstones included,
// without ownership checks: it serves repair, not clients.
func (s *Store) handleFetch(body []byte) ([]byte, error) {
	d := reader{b: body}
	id := d.str()
	if err := d.done("fetch"); err != nil {
		return nil, err
	}
	rec, ok := s.engine.Get(id)
	return marshalFound(rec, ok), nil
}

func (s *Store) handleCount() []byte {
	var tl tally
	if p := s.tally.Load(); p != nil {
		tl = *p
	}
	b := binary.AppendUvarint(nil, uint64(tl.live))
	b = binary.AppendUvarint(b, uint64(tl.graves))
	b = binary.AppendVarint(b, nanos(tl.at))
	b = binary.AppendUvarint(b, uint64(s.hints.count()))
	b = binary.AppendUvarint(b, uint64(s.UnderReplicated()))
	b = binary.AppendUvarint(b, s.Conflicts())
	return append(b, boolByte(s.Ready()))
}

// tally is what the last full scan of this node's sessions counted (an
// anti-entropy round scans them all anyway): a status page that scanned
// on every request would cost a pass over every session each time.
type tally struct {
	live, graves int
	at           time.Time
}
