package cluster

import (
	"errors"
	"fmt"

	"github.com/sessionmesh/sessionmesh/session"
)

// Errors returned by this package. They are wrapped with context (which
// partition, which node); check them with errors.Is. A Store also returns
// session.ErrNotFound, session.ErrTooLarge and session.ErrClosed as the
// session.Store contract says, and Config.Validate and New wrap
// session.ErrInvalidConfig, the one sentinel of a bad config.
var (
	// ErrNoSecret is returned by Config.Validate and New for a node
	// without a cluster secret (unless Config.Insecure, on loopback only):
	// its gossip and its sessions would be open to anyone who can reach its
	// ports. It wraps session.ErrInvalidConfig.
	ErrNoSecret = fmt.Errorf("cluster: %w: a secret is required (Insecure allows none on loopback only)", session.ErrInvalidConfig)

	// ErrUnavailable is returned when no replica of a session's partition
	// answered: the write or read could not be done on enough nodes.
	ErrUnavailable = errors.New("cluster: no replica available")

	// ErrNotOwner is returned by a node asked to serve a partition it does
	// not replicate, after the one redirect a request may take.
	ErrNotOwner = errors.New("cluster: node does not replicate the partition")

	// ErrBadMessage is returned for a peer message that does not decode,
	// or that speaks for another node than the one whose connection
	// carried it (peer.Remote), or moves a member's metadata implausibly.
	ErrBadMessage = errors.New("cluster: malformed peer message")

	// ErrNoQuorum is returned for a read or a write while the quorum guard
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

// FieldError is a Config field out of range, as Config.Validate and New
// report it. Field is the field's Go name, with the index of a list entry
// ("Join[2]"), so that a layer that reads the Config from a file can name
// the field as the file spells it (package stores does: "PeerBind" becomes
// sessions.cluster.peerBind). It wraps session.ErrInvalidConfig, and
// ErrNoSecret when the missing secret is the problem.
type FieldError struct {
	Field string // Go name: "Replicas", "Join[2]"
	Rule  string // what is wrong and what is allowed: "must be 1 to 7, ..."

	err error // what it wraps; nil means session.ErrInvalidConfig
}

func (e *FieldError) Error() string {
	return fmt.Sprintf("cluster: %v: %s %s", session.ErrInvalidConfig, e.Field, e.Rule)
}

// Unwrap returns ErrNoSecret or session.ErrInvalidConfig.
func (e *FieldError) Unwrap() error {
	if e.err != nil {
		return e.err
	}
	return session.ErrInvalidConfig
}
