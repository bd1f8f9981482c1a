package cluster

import (
	"sync"
	"time"
)

// receivers are the joining nodes pulling partitions from this node: they
// get a copy of every write this node applies to those partitions
// (replicate) while they are joining, or not yet members here (gossip is
// behind). Once ready a node owns the partitions (and gets the writes as
// a replica) or does not (and needs none); one that leaves the table, or
// never shows up in it before its lease runs out, died.
type receivers struct {
	mu     sync.Mutex                  // guards byPart
	byPart map[int]map[string]receiver // partition -> puller name -> lease
}

type receiver struct {
	m     Member
	until time.Time
}

func (r *receivers) add(m Member, parts []int, until time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.byPart == nil {
		r.byPart = map[int]map[string]receiver{}
	}
	for _, p := range parts {
		if r.byPart[p] == nil {
			r.byPart[p] = map[string]receiver{}
		}
		r.byPart[p][m.Name] = receiver{m: m, until: until}
	}
}

// of returns the receivers of p that still need copies, forgetting the
// others.
func (r *receivers) of(p int, t *Table, self string, now time.Time) []Member {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []Member
	for name, rc := range r.byPart[p] {
		if done(t, name, rc, now) {
			delete(r.byPart[p], name)
		} else if name != self {
			out = append(out, rc.m)
		}
	}
	if len(r.byPart[p]) == 0 {
		delete(r.byPart, p)
	}
	return out
}

// registered returns which of t's partitions have a receiver that still
// needs copies, forgetting the others.
func (r *receivers) registered(t *Table, now time.Time) []bool {
	r.prune(t, now)
	out := make([]bool, t.Partitions())
	r.mu.Lock()
	defer r.mu.Unlock()
	for p := range r.byPart {
		if p < len(out) {
			out[p] = true
		}
	}
	return out
}

// forget drops every registration of the puller named name.
func (r *receivers) forget(name string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for p, byName := range r.byPart {
		delete(byName, name)
		if len(byName) == 0 {
			delete(r.byPart, p)
		}
	}
}

// lookup returns the receiver named name, if any partition has one.
func (r *receivers) lookup(name string) (Member, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, byName := range r.byPart {
		if rc, ok := byName[name]; ok {
			return rc.m, true
		}
	}
	return Member{}, false
}

// done reports whether a receiver needs no more copies: its lease ran
// out, or t shows it as a member that is no longer joining.
func done(t *Table, name string, rc receiver, now time.Time) bool {
	m, ok := t.Member(name)
	return now.After(rc.until) || ok && !m.Joining
}

// prune forgets the receivers that need no more copies.
func (r *receivers) prune(t *Table, now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for p, byName := range r.byPart {
		for name, rc := range byName {
			if done(t, name, rc, now) {
				delete(byName, name)
			}
		}
		if len(byName) == 0 {
			delete(r.byPart, p)
		}
	}
}
