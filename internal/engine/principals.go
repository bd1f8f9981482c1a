package engine

import (
	"bytes"

	"github.com/sessionmesh/sessionmesh/session"
)

// The principal index: each shard knows which of its sessions belong to
// which principal (session.BinaryPrincipal of the stored record), updated
// under the shard's lock wherever a record is stored (setLocked) or
// dropped (dropLocked): writes, renews, replica copies, transfers,
// expiry, eviction. So it holds exactly the records the shard holds, and
// costs memory only for sessions that have a principal: their key in
// their principal's set.
//
// The old principal of a session is read from its stored record, not
// kept beside it: a write compares the principal in the record it
// replaces with the one in the record it writes, and changes the index
// only when they differ; a patch that leaves the principal
// (setPatchedLocked: most saves) reads neither. A second map from session
// to principal, looked up on every save, made a logged-in save 1.5x as
// slow (BENCHMARKS.md, "The principal index").

// reindexLocked updates the index for the session k, whose record old
// (nil: none) is about to be replaced by data.
func (sh *shard) reindexLocked(k key, old, data []byte) {
	p := session.BinaryPrincipal(data)
	if len(p) == 0 && len(sh.principals) == 0 {
		return // no principals here: nothing to remove
	}
	was := session.BinaryPrincipal(old)
	if bytes.Equal(was, p) {
		return
	}
	sh.unindexLocked(k, was)
	if len(p) == 0 {
		return
	}
	ids := sh.principals[string(p)]
	if ids == nil {
		if sh.principals == nil {
			sh.principals = make(map[string]map[key]struct{})
		}
		ids = make(map[key]struct{}, 1)
		sh.principals[string(p)] = ids
	}
	ids[k] = struct{}{}
}

// unindexLocked forgets that the session k has the principal p (none:
// nothing to forget).
func (sh *shard) unindexLocked(k key, p []byte) {
	if len(p) == 0 {
		return
	}
	ids := sh.principals[string(p)]
	delete(ids, k)
	if len(ids) == 0 {
		delete(sh.principals, string(p))
	}
}

// Principal returns the IDs of the live sessions whose principal is p
// (session.PrincipalOf), in no particular order. It locks each shard in
// turn, briefly, and reads no record.
func (s *Map) Principal(p string) []string {
	var ids []string
	now := s.now()
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		for k := range sh.principals[p] {
			r := ref{k: k, h: s.hash(&k)}
			if i := sh.find(&r); i >= 0 && sh.slab.deadline(sh.index.loc(i)) > now {
				ids = append(ids, k.String())
			}
		}
		sh.unlock()
	}
	return ids
}
