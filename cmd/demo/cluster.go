package main

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/sessionmesh/sessionmesh/cluster"
	"github.com/sessionmesh/sessionmesh/session"
)

// clusterStore is what the demo shows of a shared memory store: which node
// owns a session, and the cluster's members and partitions.
// *cluster.Store implements it; other stores do not, and then the demo
// sends no X-Session-Owner and the admin listener answers /cluster with 404.
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

// clusterStatus answers GET /cluster on the admin listener: a summary by
// default, the whole Status with ?verbose=1 (the partition lists: the
// audit measured 113 KB), and the status page (statuspage.go) to a
// browser, whose Accept names text/html.
func (d *demo) clusterStatus(w http.ResponseWriter, r *http.Request) {
	if d.cluster == nil {
		http.Error(w, "not a cluster: the store is not the shared memory store (set sessions.cluster)", http.StatusNotFound)
		return
	}
	st := d.status.get()
	w.Header().Add("Vary", "Accept")
	verbose, _ := strconv.ParseBool(r.URL.Query().Get("verbose"))
	if wantsHTML(r) && !verbose {
		d.statusPage(w, st)
		return
	}
	var body any = summarize(st)
	if verbose {
		body = st
	}
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(body); err != nil {
		d.log.Warn("demo: write /cluster", "err", err)
	}
}

// clusterSummary is GET /cluster's default answer: the Status with, per
// member, how many partitions it is primary and backup for instead of
// their lists. It embeds cluster.Status so that every other field keeps
// its name, and a client decoding into cluster.Status reads it as it is.
type clusterSummary struct {
	cluster.Status
	Members []memberSummary `json:"members"` // shadows Status.Members
}

// memberSummary is one member of a clusterSummary.
type memberSummary struct {
	cluster.MemberStatus
	// Primary and Backup shadow the lists, which stay nil and so are
	// left out.
	Primary   []int `json:"primary,omitempty"`
	Backup    []int `json:"backup,omitempty"`
	Primaries int   `json:"primaries"` // partitions it is primary for
	Backups   int   `json:"backups"`   // partitions it is a backup for
}

func summarize(st cluster.Status) clusterSummary {
	sum := clusterSummary{Status: st, Members: make([]memberSummary, len(st.Members))}
	sum.Status.Members = nil
	for i, m := range st.Members {
		sum.Members[i] = memberSummary{MemberStatus: m, Primaries: len(m.Primary), Backups: len(m.Backup)}
	}
	return sum
}

// statusTTL is how long GET /cluster reuses a Status: each one asks every
// member for its counts over the peer transport (the audit measured 128
// times the cost of /healthz), so a flood of requests must share them.
const statusTTL = time.Second

// statusCache keeps the cluster's last Status for ttl.
type statusCache struct {
	cluster clusterStore
	ttl     time.Duration
	now     func() time.Time

	// mu guards the fields below. It is held while one request asks the
	// members, so that the requests arriving meanwhile wait for its
	// answer instead of asking them too. Each peer call is bounded by the
	// cluster's CallTimeout, and so is the wait.
	mu sync.Mutex
	st cluster.Status
	at time.Time // when st was made; zero before the first
}

func newStatusCache(c clusterStore, now func() time.Time) *statusCache {
	return &statusCache{cluster: c, ttl: statusTTL, now: now}
}

// get returns a Status at most ttl old. It is made with a ctx of its own:
// the request that happens to make it may go away, the others still want it.
func (c *statusCache) get() cluster.Status {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.at.IsZero() && c.now().Sub(c.at) < c.ttl {
		return c.st
	}
	c.st = c.cluster.Status(context.Background())
	c.at = c.now()
	return c.st
}
