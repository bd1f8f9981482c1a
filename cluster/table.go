package cluster

import (
	"hash/fnv"
	"slices"
	"strings"
)

// Member is one node as the partition table sees it.
type Member struct {
	Name     string // node name: Config.Name + "-" + boot ID
	Addr     string // peer transport address
	Draining bool   // leaving: it hands its sessions off and owns no partitions
	Joining  bool   // pulling the partitions it will own; owns none until ready
}

// Table maps partitions to their preference lists. It is immutable: a
// membership change builds a new Table with the next epoch, so readers
// never lock. Two nodes that see the same members build the same table
// (the epoch aside, which counts local changes); Fingerprint tells whether
// two tables agree.
type Table struct {
	epoch      uint64
	replicas   int
	partitions int
	members    []Member // sorted by name
	eligible   []int    // indices of non-draining members
	top        [][]int  // per partition: the top N+1 member indices, in HRW order
	print      uint64
}

// NewTable builds the table for members. Each partition's preference list
// is its top-N eligible members by rendezvous (highest random weight)
// hashing: every member gets a score from hash(partition, name), the
// highest N own the partition, index 0 is the primary. HRW needs no ring
// and no virtual nodes, and removing a member only changes the partitions
// that had it in their top N, whose next-best member already holds a copy.
// Draining and joining members own nothing.
func NewTable(members []Member, partitions, replicas int, epoch uint64) *Table {
	t := &Table{epoch: epoch, replicas: replicas, partitions: partitions}
	t.members = slices.Clone(members)
	slices.SortFunc(t.members, func(a, b Member) int { return strings.Compare(a.Name, b.Name) })
	t.members = slices.CompactFunc(t.members, func(a, b Member) bool { return a.Name == b.Name })
	for i, m := range t.members {
		if !m.Draining && !m.Joining {
			t.eligible = append(t.eligible, i)
		}
	}
	// The top N+1 (owners and the first stand-in) serve every request;
	// the full order is computed only when more stand-ins are needed.
	t.top = make([][]int, partitions)
	for p := range t.top {
		t.top[p] = t.rank(p, replicas+1)
	}
	t.print = t.fingerprint()
	return t
}

// rank returns the first n eligible members of partition p in HRW order.
func (t *Table) rank(p, n int) []int {
	type scored struct {
		idx   int
		score uint64
	}
	all := make([]scored, len(t.eligible))
	for i, idx := range t.eligible {
		all[i] = scored{idx, score(p, t.members[idx].Name)}
	}
	// Ties are astronomically rare; the name order breaks them so every
	// node still agrees.
	slices.SortFunc(all, func(a, b scored) int {
		if a.score != b.score {
			return cmpDesc(a.score, b.score)
		}
		return a.idx - b.idx
	})
	out := make([]int, 0, min(n, len(all)))
	for _, s := range all[:min(n, len(all))] {
		out = append(out, s.idx)
	}
	return out
}

func cmpDesc(a, b uint64) int {
	if a > b {
		return -1
	}
	return 1
}

// Epoch counts the membership changes this node has seen.
func (t *Table) Epoch() uint64 { return t.epoch }

// Fingerprint identifies the member set (names and flags): two
// tables with the same fingerprint route every session the same way.
func (t *Table) Fingerprint() uint64 { return t.print }

// Partitions returns the number of partitions.
func (t *Table) Partitions() int { return t.partitions }

// Members returns the members sorted by name.
func (t *Table) Members() []Member { return slices.Clone(t.members) }

// Partition returns the partition of a session ID.
func (t *Table) Partition(id string) int { return partitionOf(t, id) }

// partitionOf is t.Partition of an ID given as a string or as bytes (a
// walk of the engine, engine.RangeBinary, hands IDs out as bytes).
func partitionOf[T string | []byte](t *Table, id T) int {
	return int(mix64(fnv64a(id)) % uint64(t.partitions))
}

// Owners returns partition p's preference list: up to N members, the
// primary first. It is empty only when no member is eligible.
func (t *Table) Owners(p int) []Member {
	top := t.top[p]
	return t.pick(top[:min(len(top), t.replicas)])
}

// Candidates returns the owners of partition p and the next member in HRW
// order: the nodes that may hold it when one owner did not answer a write.
func (t *Table) Candidates(p int) []Member {
	return t.pick(t.top[p])
}

// Eligible returns the number of members that own partitions (those not
// draining or joining).
func (t *Table) Eligible() int { return len(t.eligible) }

// Order returns every eligible member in partition p's HRW order: the
// owners first, then the nodes that take hinted copies when an owner does
// not answer.
func (t *Table) Order(p int) []Member {
	return t.pick(t.rank(p, len(t.eligible)))
}

func (t *Table) pick(idx []int) []Member {
	out := make([]Member, len(idx))
	for i, j := range idx {
		out[i] = t.members[j]
	}
	return out
}

// hasOthers reports whether the table has a member other than self.
func (t *Table) hasOthers(self string) bool {
	return len(t.members) > 1 || len(t.members) == 1 && t.members[0].Name != self
}

// eligibleMember reports whether name is a member that owns partitions (neither
// joining nor draining).
func (t *Table) eligibleMember(name string) bool {
	m, ok := t.Member(name)
	return ok && !m.Joining && !m.Draining
}

// IsOwner reports whether name is one of partition p's owners.
func (t *Table) IsOwner(p int, name string) bool {
	top := t.top[p]
	for _, idx := range top[:min(len(top), t.replicas)] {
		if t.members[idx].Name == name {
			return true
		}
	}
	return false
}

// backupOf reports whether name is one of partition p's owners other
// than its primary, and the primary's name.
func (t *Table) backupOf(p int, name string) (primary string, ok bool) {
	top := t.top[p]
	for _, idx := range top[1:min(len(top), t.replicas)] {
		if t.members[idx].Name == name {
			return t.members[top[0]].Name, true
		}
	}
	return "", false
}

// IsPrimary reports whether name is partition p's primary.
func (t *Table) IsPrimary(p int, name string) bool {
	top := t.top[p]
	return len(top) > 0 && t.members[top[0]].Name == name
}

// Target returns the table this one becomes once every joining member is
// ready: the partitions a joining member pulls before it says so.
func (t *Table) Target() *Table {
	if !slices.ContainsFunc(t.members, func(m Member) bool { return m.Joining }) {
		return t
	}
	ms := slices.Clone(t.members)
	for i := range ms {
		ms[i].Joining = false
	}
	return NewTable(ms, t.partitions, t.replicas, t.epoch)
}

// Member returns the member named name.
func (t *Table) Member(name string) (Member, bool) {
	i, ok := slices.BinarySearchFunc(t.members, name, func(m Member, n string) int { return strings.Compare(m.Name, n) })
	if !ok {
		return Member{}, false
	}
	return t.members[i], true
}

// Roles returns the partitions name is primary for and those it is a
// backup for.
func (t *Table) Roles(name string) (primary, backup []int) {
	for p, top := range t.top {
		for rank, idx := range top[:min(len(top), t.replicas)] {
			if t.members[idx].Name != name {
				continue
			}
			if rank == 0 {
				primary = append(primary, p)
			} else {
				backup = append(backup, p)
			}
		}
	}
	return primary, backup
}

func (t *Table) fingerprint() uint64 {
	h := fnv.New64a()
	for _, m := range t.members {
		h.Write([]byte(m.Name))
		if m.Draining {
			h.Write([]byte{1})
		}
		if m.Joining {
			h.Write([]byte{2})
		}
		h.Write([]byte{0})
	}
	return h.Sum64()
}

// score is the HRW weight of member name for partition p. FNV alone
// clusters on short similar inputs, so the result goes through a 64-bit
// finalizer (splitmix64) to spread it.
func score(p int, name string) uint64 {
	return mix64(fnv64a(name) ^ mix64(uint64(p)+1))
}

// fnv64a is FNV-1a, 64 bits (hash/fnv's New64a), of a string or bytes
// without converting one to the other.
func fnv64a[T string | []byte](b T) uint64 {
	h := uint64(14695981039346656037)
	for i := range len(b) {
		h ^= uint64(b[i])
		h *= 1099511628211
	}
	return h
}

func mix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// Placement: which members a partition's requests, copies and pulls go
// to, derived from a Table. Pure functions of the table.

// ownedBy returns, per partition, whether self should hold it in t: as an
// owner, or, while self is joining, as an owner-to-be (t.Target()).
func ownedBy(t *Table, self string) []bool {
	if m, ok := t.Member(self); ok && m.Joining {
		t = t.Target()
	}
	owned := make([]bool, t.Partitions())
	for p := range owned {
		owned[p] = t.IsOwner(p, self)
	}
	return owned
}

// sources returns the nodes that may hold partition p besides self: its
// candidates (the owners and the stand-in, the next node in HRW order,
// which may keep hinted copies) and the draining members, which hold what
// they owned until their hand-off is done. Joining members hold nothing the owners
// lack.
func sources(t *Table, p int, self string) []Member {
	out := splitSelf(t.Candidates(p), self)
	for _, m := range t.members {
		if m.Draining && m.Name != self {
			out = append(out, m)
		}
	}
	return out
}

// pullSources returns the nodes self pulls partition p from: its
// sources, and, while self is joining, the other joining members too.
// Two workers that join at once each become ready on their own, and each
// may serve as primary while its table still shows the other joining:
// registered with each other (pull), each copies such writes to the
// other, as the old owners do. Without it, the one whose table is behind
// writes without the other, which already serves the partition as its
// authority and answers from a stale copy.
func pullSources(t *Table, p int, self Member) []Member {
	out := sources(t, p, self.Name)
	if self.Joining {
		for _, m := range t.members {
			if m.Joining && m.Name != self.Name {
				out = append(out, m)
			}
		}
	}
	return out
}

func splitSelf(ms []Member, self string) []Member {
	out := make([]Member, 0, len(ms))
	for _, m := range ms {
		if m.Name != self {
			out = append(out, m)
		}
	}
	return out
}

// rankOf returns name's place among p's candidates (0: the primary), or
// -1 when it is none of them.
func (t *Table) rankOf(p int, name string) int {
	for rank, i := range t.top[p] {
		if t.members[i].Name == name {
			return rank
		}
	}
	return -1
}

// rankedBefore reports whether a comes before b in p's candidates.
func rankedBefore(t *Table, p int, a, b string) bool {
	for _, m := range t.Candidates(p) {
		switch m.Name {
		case a:
			return true
		case b:
			return false
		}
	}
	return false
}

// promoted reports whether self is p's primary in next but was not in
// old.
func promoted(old, next *Table, p int, self string) bool {
	return next.IsPrimary(p, self) && !old.IsPrimary(p, self)
}

// freshMembers returns the ready members of next that old did not have
// at all: joining members are not counted (they pull from the owners, so
// they hold nothing the owners lack).
func freshMembers(old, next *Table) map[string]bool {
	fresh := map[string]bool{}
	for _, m := range next.Members() {
		if _, ok := old.Member(m.Name); !ok && !m.Joining {
			fresh[m.Name] = true
		}
	}
	return fresh
}

func ownedByAny(t *Table, p int, names map[string]bool) bool {
	for _, m := range t.Owners(p) {
		if names[m.Name] {
			return true
		}
	}
	return false
}

func anyIn(ms []Member, names map[string]bool) bool {
	for _, m := range ms {
		if names[m.Name] {
			return true
		}
	}
	return false
}
