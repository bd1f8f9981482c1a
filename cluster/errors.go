package cluster

import (
	"errors"
	"fmt"
)

// Errors returned by this package. They are wrapped with context (which
// partition, which node); check them with errors.Is. A Store also returns
// session.ErrNotFound, session.ErrTooLarge and session.ErrClosed as the
// session.Store contract says, and Config.Validate and New wrap
// session.ErrInvalidConfig, the one sentinel of a bad config.
var (
	// ErrNoSecret is returned by New when a node would listen on or
	// advertise a non-loopback address without a cluster secret: its gossip
	// and its sessions would be open to anyone on the network.
	ErrNoSecret = errors.New("cluster: a secret is required when binding or advertising a non-loopback address")

	// ErrUnavailable is returned when no replica of a session's partition
	// answered: the write or read could not be done on enough nodes.
	ErrUnavailable = errors.New("cluster: no replica available")

	// ErrNotOwner is returned by a node asked to serve a partition it does
	// not replicate, after the one redirect a request may take.
	ErrNotOwner = errors.New("cluster: node does not replicate the partition")

	// ErrBadMessage is returned for a peer message that does not decode.
	ErrBadMessage = errors.New("cluster: malformed peer message")

	// ErrNoQuorum is returned for a read or a write while Config.Quorum
	// is on and this node sees no more than half of the last stable
	// membership: it may be on the minority side of a split, where a
	// write could conflict with the majority's and a read be stale.
	// Nothing is written. It wraps
	// ErrUnavailable, so callers that treat the store as down (the
	// middleware answers 503) need no special case.
	ErrNoQuorum = fmt.Errorf("cluster: no quorum: fewer than a majority of the last stable membership is visible: %w", ErrUnavailable)

	// ErrNotSynced is returned by a node that was paused (SIGSTOP, a
	// frozen VM) and has not yet found out whether it missed writes
	// meanwhile. The sender fails over to the next replica.
	ErrNotSynced = errors.New("cluster: node paused; not serving until it has checked what it missed")
)
