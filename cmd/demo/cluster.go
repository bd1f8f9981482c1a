package main

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/sessionmesh/sessionmesh/cluster"
	"github.com/sessionmesh/sessionmesh/session"
)

// clusterStore is what the demo shows of a shared memory store: which node
// owns a session, and the cluster's members and partitions.
// *cluster.Store implements it; other stores do not, and then the demo
// sends no X-Session-Owner and answers /cluster with 404.
type clusterStore interface {
	Owner(id string) string
	Status(ctx context.Context) cluster.Status
}

// readiness is a store that serves only some time after it opened: a
// cluster node is a member at once but owns no partition until it has
// pulled the ones it will own, and stops serving when it drains.
// *cluster.Store implements it; a store that does not is ready when open.
type readiness interface {
	Ready() bool
}

// drainer is a store that holds data only this process has, which must be
// handed to other processes before it exits. *cluster.Store implements it:
// HandOff hands every session it holds to the partitions' new owners and
// waits for their acknowledgement (or ctx); the node still routes
// requests to the owners until Close leaves the cluster and stops it.
type drainer interface {
	HandOff(ctx context.Context) error
}

// setOwner names the node that owns s in X-Session-Owner, before the
// response starts.
func (d *demo) setOwner(w http.ResponseWriter, s *session.Session) {
	if d.cluster == nil {
		return
	}
	if id := s.ID(); id != "" {
		w.Header().Set("X-Session-Owner", d.cluster.Owner(id))
	}
}

// clusterStatus answers GET /cluster: the members, the epoch and, per node,
// the partitions it is primary or backup for and the sessions it holds.
func (d *demo) clusterStatus(w http.ResponseWriter, r *http.Request) {
	if d.cluster == nil {
		http.Error(w, "not a cluster: the store is not the shared memory store (set sessions.cluster)", http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(d.cluster.Status(r.Context())); err != nil {
		d.log.Warn("demo: write /cluster", "err", err)
	}
}
