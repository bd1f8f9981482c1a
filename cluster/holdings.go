package cluster

import (
	"sync"
	"sync/atomic"
)

// holdings records which partitions this node holds a complete copy of:
// the partitions it may serve as primary and count as a replica of. A
// node holds a partition once it has pulled it from every node that may
// have it (transfer.go), and keeps holding it while it stays an owner. It
// stops holding a partition when it loses ownership (its copy goes stale
// from then on), when a member it had not seen joins the partition's
// owners (after a split heals, that member may have taken writes this
// node missed), and when the node itself was paused long enough to be
// declared dead (pause.go). A partition that is owned but not held is
// pulled again; until then the node is no authority for it: a request it
// serves for the partition starts from the newest copy among all the
// partition's sources (Store.local).
//
// gen counts the invalidations of each partition, so a pull that started
// before one cannot mark the partition held afterwards. epoch is the
// table the holdings were last updated for: update runs before that table
// is published, so a pull round that read the table before it sees an
// older epoch and waits for the new table (wanted), rather than pull,
// under the new generations, a partition only the old table gave it.
type holdings struct {
	mu    sync.Mutex    // guards writes to held, gen and epoch
	held  []atomic.Bool // read without mu on every request
	gen   []uint64
	epoch uint64
}

func newHoldings(partitions int) *holdings {
	return &holdings{held: make([]atomic.Bool, partitions), gen: make([]uint64, partitions)}
}

// holds reports whether partition p is held.
func (h *holdings) holds(p int) bool { return h.held[p].Load() }

// wanted returns up to limit partitions that owned, computed from table
// t, says this node should hold but does not, with their generations;
// current is false, and nothing is returned, when the holdings were
// updated for a table newer than t.
func (h *holdings) wanted(t *Table, owned []bool, limit int) (parts []int, gens []uint64, current bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if t.Epoch() != h.epoch {
		return nil, nil, false
	}
	for p, own := range owned {
		if own && !h.held[p].Load() {
			parts = append(parts, p)
			gens = append(gens, h.gen[p])
			if len(parts) == limit {
				break
			}
		}
	}
	return parts, gens, true
}

// markHeld records that partition p was pulled completely, unless it was
// invalidated since the pull started (gen moved on).
func (h *holdings) markHeld(p int, gen uint64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.gen[p] == gen {
		h.held[p].Store(true)
	}
}

// dropLocked stops holding p.
func (h *holdings) dropLocked(p int) {
	h.held[p].Store(false)
	h.gen[p]++
}

// drop stops holding parts: this node may have missed writes to them.
func (h *holdings) drop(parts []int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, p := range parts {
		h.dropLocked(p)
	}
}

// dropAll stops holding every partition: this node may have missed writes
// to any of them.
func (h *holdings) dropAll() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for p := range h.held {
		h.dropLocked(p)
	}
}

// update applies a table change for node self. A partition is no longer
// held when self no longer owns it; when its owners now include a member
// absent from the old table (it may have taken writes self missed); and
// when self becomes its primary having been a backup: a write the old
// primary could not copy here sits as a hinted copy on the next node, or
// only on the old primary if it is draining, so self serves the
// partition from the newest copy among its sources until it has pulled
// it again (a node that was joining has just pulled it, with every write
// copied to it since). owned is what self owns in next (see ownedBy).
func (h *holdings) update(old, next *Table, self string, owned []bool) {
	fresh := freshMembers(old, next)
	me, _ := old.Member(self)
	h.mu.Lock()
	defer h.mu.Unlock()
	h.epoch = next.Epoch()
	for p, own := range owned {
		stale := h.held[p].Load() && (len(fresh) > 0 && ownedByAny(next, p, fresh) ||
			!me.Joining && promoted(old, next, p, self))
		if !own || stale {
			h.dropLocked(p) // also outdates a pull of p in flight
		}
	}
}

// missing returns how many partitions owned marks that are not held.
func (h *holdings) missing(owned []bool) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for p, own := range owned {
		if own && !h.held[p].Load() {
			n++
		}
	}
	return n
}
