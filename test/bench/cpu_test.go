package main

import (
	"testing"
	"time"
)

func TestParseProcStat(t *testing.T) {
	tests := []struct {
		name string
		stat string
		want time.Duration
	}{
		{"plain", "4242 (demo) S 1 4242 4242 0 -1 4194560 1500 0 0 0 250 75 0 0 20 0 9 0 1234 0 0", 3250 * time.Millisecond},
		// the name is the command, which may hold spaces and parentheses
		{"odd name", "77 (a) b (c) R 1 77 77 0 -1 0 0 0 0 0 1 2 3 4 20 0 1 0 5 0 0", 30 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseProcStat([]byte(tt.stat))
			if err != nil || got != tt.want {
				t.Fatalf("parseProcStat = %v, %v; want %v", got, err, tt.want)
			}
		})
	}
	for _, bad := range []string{"", "12 demo S 1", "12 (demo) S 1 2 3", "12 (demo) S 1 2 3 4 5 6 7 8 9 10 x 2 3"} {
		if _, err := parseProcStat([]byte(bad)); err == nil {
			t.Errorf("parseProcStat(%q) accepted it", bad)
		}
	}
}

func TestParseMachineStat(t *testing.T) {
	stat := "cpu  100 5 50 800 10 3 2 30 7 0\ncpu0 50 2 25 400 5 1 1 15 3 0\n"
	got, err := parseMachineStat([]byte(stat))
	if err != nil {
		t.Fatal(err)
	}
	// busy: user, nice, system, irq, softirq; guest is part of user
	want := machineCPU{Busy: 1600 * time.Millisecond, Steal: 300 * time.Millisecond, Total: 10 * time.Second} // + idle 800, iowait 10, steal 30
	if got != want {
		t.Fatalf("parseMachineStat = %+v, want %+v", got, want)
	}
	if _, err := parseMachineStat([]byte("intr 1 2 3\n")); err == nil {
		t.Error("accepted a first line that is not cpu")
	}
}

func TestUsed(t *testing.T) {
	s := time.Second
	t0 := time.Unix(1000, 0)
	before := cpuSnapshot{at: t0, procs: map[string]time.Duration{"w0": 1 * s, "haproxy": 2 * s},
		machine: machineCPU{Busy: 10 * s, Steal: 1 * s}}
	after := cpuSnapshot{at: t0.Add(3 * s), procs: map[string]time.Duration{"w0": 4 * s, "haproxy": 3 * s},
		machine: machineCPU{Busy: 17 * s, Steal: 1500 * time.Millisecond}}
	u := used(before, after, 2*s) // wrk used 2s
	if u.total != 4*s || u.procs["w0"] != 3*s || u.procs["haproxy"] != s {
		t.Errorf("used: total %v, procs %v; want 4s of which w0 3s", u.total, u.procs)
	}
	if u.other != s || u.steal != 500*time.Millisecond || u.wall != 3*s {
		t.Errorf("used: other %v steal %v wall %v, want 1s, 500ms, 3s", u.other, u.steal, u.wall)
	}
	// ticks are coarse: what the machine reports may trail the processes
	after.machine.Busy = 12 * s
	if u := used(before, after, 2*s); u.other != 0 {
		t.Errorf("other = %v, want 0 when the processes account for more than the machine", u.other)
	}
}

func TestParseStatus(t *testing.T) {
	status := "Name:\twrk\nUmask:\t0022\nState:\tS (sleeping)\nTgid:\t42\nThreads:\t3\nSigQ:\t0/1\n"
	if n, z, err := parseStatus([]byte(status)); n != 3 || z || err != nil {
		t.Errorf("parseStatus = %d, %v, %v; want 3 threads, running", n, z, err)
	}
	zombie := "Name:\twrk\nState:\tZ (zombie)\nThreads:\t1\n"
	if n, z, err := parseStatus([]byte(zombie)); n != 1 || !z || err != nil {
		t.Errorf("parseStatus(zombie) = %d, %v, %v; want 1 thread, exited", n, z, err)
	}
	if _, _, err := parseStatus([]byte("Name:\twrk\n")); err == nil {
		t.Error("parseStatus accepted a status without Threads")
	}
}
