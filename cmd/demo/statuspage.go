package main

import (
	"fmt"
	"hash/fnv"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sessionmesh/sessionmesh/cluster"
)

// statusRefresh is how often the status page fetches itself again. The
// Status it shows is cached for statusTTL, so a page left open costs the
// cluster one Status per statusRefresh at most, shared by every viewer.
const statusRefresh = 2 * time.Second

// statser is a store that reports what the node alone knows of itself
// (*cluster.Store): the status page takes the bytes it holds from it,
// since a Status carries no bytes per member.
type statser interface {
	Stats() cluster.Stats
}

// statusPage answers GET /cluster for a browser: st as a page.
func (d *demo) statusPage(w http.ResponseWriter, st cluster.Status) {
	v := d.statusView(st)
	d.renderPage(w, "status.html", pageData{Page: v})
}

// statusView is what the status page shows: the Status, with each member's
// colour and state spelled out, and the partition ring cut into arcs.
type statusView struct {
	cluster.Status
	Members   []memberView // shadows Status.Members
	Rings     []ringView   // the primary ring first, then one per backup
	Sessions  int          // live sessions summed over the members (copies included)
	Ticks     string       // stroke-dasharray of the sectors' borders
	Sectors   int          // ringSectors
	Refresh   int          // milliseconds between two fetches of the page
	Generated string       // when the page was made, UTC
}

// memberView is one member of a statusView.
type memberView struct {
	cluster.MemberStatus
	Colour    string
	State     string // ready, joining, draining, syncing or unreachable
	Primaries int
	Backups   int
	Bytes     int64 // the memory its sessions hold; -1 when unknown (the member did not answer)
	Self      bool  // the node that answered
}

// ringSectors is how many sectors a ring is cut into. Rendezvous hashing
// scatters a member's partitions over the whole key space, so drawn one by
// one (4096 partitions on a ring 900 pixels round) they blur into a grey
// stripe pattern. Within a sector the partitions are drawn grouped by
// owner instead: each member's arc there is as long as the partitions it
// owns in the sector. The sectors keep the partitions' order, so the ring
// still says who holds which range, to a sector's precision, and when a
// member dies or joins every sector's arcs visibly grow or shrink. The
// partition by partition truth is in GET /cluster?verbose=1.
const ringSectors = 32

// ringView is one ring of the SVG: partition p sits at angle p/Partitions
// of a turn (sectors grouped as ringSectors says), and each member's arcs
// are one circle whose stroke is dashed so that it is drawn only where the
// member's partitions are; a join or a crash changes the dashes, and the
// arcs visibly move.
type ringView struct {
	Label  string
	Radius int // of the ring's middle, in the 340-wide SVG
	Width  int // of the ring's stroke
	Arcs   []arcView
}

// arcView is one member's arcs on a ring.
type arcView struct {
	Member string
	Colour string
	Dashes string // stroke-dasharray, in partitions (pathLength = Partitions)
	Count  int    // partitions it holds on this ring
}

func (d *demo) statusView(st cluster.Status) statusView {
	v := statusView{Status: st, Sectors: ringSectors, Refresh: int(statusRefresh / time.Millisecond),
		Generated: time.Now().UTC().Format("15:04:05")}
	names := make([]string, len(st.Members))
	for i, m := range st.Members {
		names[i] = m.Name
	}
	cols := colours(names)
	var self cluster.Stats
	statsOK := false
	if s, ok := d.cluster.(statser); ok {
		self, statsOK = s.Stats(), true
	}
	for i, m := range st.Members {
		mv := memberView{MemberStatus: m, Colour: cols[i], State: memberState(m),
			Primaries: len(m.Primary), Backups: len(m.Backup), Bytes: m.Bytes, Self: m.Name == st.Node}
		if mv.Self && statsOK {
			mv.Bytes = self.Bytes
		}
		v.Sessions += max(m.Sessions, 0)
		v.Members = append(v.Members, mv)
	}
	v.Rings, v.Ticks = rings(st, cols), sectorTicks(st.Partitions)
	return v
}

// memberState is a member's state in one word, the worst first.
func memberState(m cluster.MemberStatus) string {
	switch {
	case m.Error != "":
		return "unreachable"
	case m.Draining:
		return "draining"
	case m.Joining:
		return "joining"
	case !m.Ready:
		return "syncing"
	default:
		return "ready"
	}
}

// rings returns the primary ring and one ring per backup. A partition's
// backups are put on the backup rings in the members' name order (the
// Status does not say which is first in the partition's preference list).
func rings(st cluster.Status, cols []string) []ringView {
	n := max(st.Replicas, 1)
	owner := make([][]int, n) // owner[ring][partition]: index in st.Members, -1 for none
	for k := range owner {
		owner[k] = slices.Repeat([]int{-1}, st.Partitions)
	}
	for i, m := range st.Members {
		for _, p := range m.Primary {
			if p >= 0 && p < st.Partitions {
				owner[0][p] = i
			}
		}
		for _, p := range m.Backup {
			for k := 1; k < n && p >= 0 && p < st.Partitions; k++ {
				if owner[k][p] == -1 {
					owner[k][p] = i
					break
				}
			}
		}
	}
	// The rings share the band from radius 150 inwards to about 50, so
	// that up to 7 replicas leave the centre's label clear.
	step := min(26, 100/n)
	out := make([]ringView, n)
	for k := range out {
		groupBySector(owner[k])
		out[k] = ringView{Label: "backup " + strconv.Itoa(k), Radius: 150 - step*k, Width: step - 6}
		if k == 0 {
			out[k].Label = "primary"
		}
		for i, m := range st.Members {
			if dashes, count := dashArray(owner[k], i); count > 0 {
				out[k].Arcs = append(out[k].Arcs, arcView{Member: m.Name, Colour: cols[i], Dashes: dashes, Count: count})
			}
		}
	}
	return out
}

// groupBySector sorts the owners within each of the ringSectors sectors,
// so that a member's partitions in a sector are drawn as one arc.
func groupBySector(owner []int) {
	size := (len(owner) + ringSectors - 1) / ringSectors
	for start := 0; start < len(owner); start += size {
		slices.Sort(owner[start:min(start+size, len(owner))])
	}
}

// sectorTicks returns the stroke-dasharray of the white ticks that mark
// the sectors' borders on a ring of the given partitions.
func sectorTicks(partitions int) string {
	size := float64(partitions) / ringSectors
	tick := max(float64(partitions)/400, 0.5) // about 2 pixels
	return fmt.Sprintf("%.2f %.2f", tick, size-tick)
}

// dashArray returns the stroke-dasharray that draws the partitions whose
// owner is who, in partition units, and how many those are. It starts
// with an empty dash, so that the first length is a gap, and has an even
// number of lengths summing to len(owner): the pattern ends where the
// circle does.
func dashArray(owner []int, who int) (string, int) {
	var b strings.Builder
	b.WriteString("0")
	lengths, run, count, mine := 1, 0, 0, false
	for _, o := range owner {
		if (o == who) != mine {
			fmt.Fprintf(&b, " %d", run)
			lengths, run, mine = lengths+1, 0, !mine
		}
		run++
		if mine {
			count++
		}
	}
	fmt.Fprintf(&b, " %d", run)
	if lengths++; lengths%2 == 1 {
		b.WriteString(" 0")
	}
	return b.String(), count
}

// palette holds the members' colours: Okabe and Ito's six that stay
// distinct with the common colour-vision deficiencies and read on white,
// then a purple and a brown.
var palette = []string{"#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#6A51A3", "#8C564B"}

// colours returns the members' colours, names in name order (as a Status
// has them): a name's hash picks its palette entry, and a name whose entry
// an earlier name took gets the next free one. Every worker computes the
// same colours from the same members, so a page whose refreshes different
// workers answer (compose's admin frontend is round-robin) keeps them, and
// a member keeps its colour when another joins or dies, unless a clash
// had moved it. Past len(palette) members, colours repeat.
func colours(names []string) []string {
	used := make([]bool, len(palette))
	out := make([]string, len(names))
	for j, name := range names {
		h := fnv.New32a()
		h.Write([]byte(name))
		first := int(h.Sum32() % uint32(len(palette)))
		i := first
		for k := range palette {
			if c := (first + k) % len(palette); !used[c] {
				i = c
				break
			}
		}
		used[i], out[j] = true, palette[i]
	}
	return out
}

// byteSize formats n bytes for people: 512 B, 1.5 KiB, 12.0 MiB.
func byteSize(n int64) string {
	if n < 1024 {
		return fmt.Sprintf("%d B", n)
	}
	f, unit := float64(n)/1024, 0
	for f >= 1024 && unit < 3 {
		f, unit = f/1024, unit+1
	}
	return fmt.Sprintf("%.1f %s", f, []string{"KiB", "MiB", "GiB", "TiB"}[unit])
}
