package engine

import "github.com/sessionmesh/sessionmesh/session"

// The principal index: each shard knows which of its sessions belong to
// which principal (session.BinaryPrincipal of the stored record), updated
// under the shard's lock wherever a record is stored (setLocked) or
// dropped (dropLocked): writes, renews, replica copies, transfers,
// expiry, eviction. So it holds exactly the records the shard holds, and
// costs memory only for sessions that have a principal: an entry in each
// of two maps, the principal's string shared between them.

// indexLocked records that the session k, just stored as data, has the
// principal BinaryPrincipal finds in data (none: it is not indexed).
func (sh *shard) indexLocked(k key, data []byte) {
	p := session.BinaryPrincipal(data)
	old, had := sh.principalOf[k]
	switch {
	case had && old == string(p):
		return
	case had:
		sh.unindexLocked(k, old)
	}
	if len(p) == 0 {
		return
	}
	ps := string(p)
	if sh.principalOf == nil {
		sh.principalOf = make(map[key]string)
		sh.principals = make(map[string]map[key]struct{})
	}
	ids := sh.principals[ps]
	if ids == nil {
		ids = make(map[key]struct{}, 1)
		sh.principals[ps] = ids
	}
	ids[k] = struct{}{}
	sh.principalOf[k] = ps
}

// unindexLocked forgets that the session k has the principal p.
func (sh *shard) unindexLocked(k key, p string) {
	delete(sh.principalOf, k)
	ids := sh.principals[p]
	delete(ids, k)
	if len(ids) == 0 {
		delete(sh.principals, p)
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
			if sh.slab.deadline(sh.index[k]) > now {
				ids = append(ids, k.String())
			}
		}
		sh.unlock()
	}
	return ids
}
