package main

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"time"
)

// tick is one clock tick of /proc: USER_HZ, which Linux fixes at 100 on
// every architecture Go runs on (sysconf(_SC_CLK_TCK) without cgo).
const tick = 10 * time.Millisecond

// parseProcStat returns utime+stime of /proc/PID/stat's contents: fields
// 14 and 15, counted after the ")" that ends the command name, which may
// itself hold spaces and parentheses. They cover every thread of the
// process, exited ones included.
func parseProcStat(b []byte) (time.Duration, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("proc stat: no \")\" in %q", b)
	}
	f := bytes.Fields(b[i+1:]) // f[0] is field 3, the state
	if len(f) < 13 {
		return 0, fmt.Errorf("proc stat: %d fields after the name, want at least 13", len(f))
	}
	var sum uint64
	for _, s := range f[11:13] {
		n, err := strconv.ParseUint(string(s), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("proc stat: utime/stime %q: %w", s, err)
		}
		sum += n
	}
	return time.Duration(sum) * tick, nil
}

// processCPU returns the CPU time pid has used so far.
func processCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	return parseProcStat(b)
}

// machineCPU is the "cpu" line of /proc/stat: time summed over all cores.
type machineCPU struct {
	Busy  time.Duration // user, nice, system, irq, softirq
	Steal time.Duration // taken by the hypervisor for other guests
	Total time.Duration // the above plus idle and iowait
}

// parseMachineStat reads the first line of /proc/stat: "cpu user nice
// system idle iowait irq softirq steal guest guest_nice". Guest time is
// already counted in user, so it is left out.
func parseMachineStat(b []byte) (machineCPU, error) {
	line, _, _ := bytes.Cut(b, []byte("\n"))
	f := bytes.Fields(line)
	if len(f) < 9 || string(f[0]) != "cpu" {
		return machineCPU{}, fmt.Errorf("/proc/stat: first line %q is not the cpu total", line)
	}
	var v [8]time.Duration
	for i := range v {
		n, err := strconv.ParseUint(string(f[i+1]), 10, 64)
		if err != nil {
			return machineCPU{}, fmt.Errorf("/proc/stat: field %d %q: %w", i+1, f[i+1], err)
		}
		v[i] = time.Duration(n) * tick
	}
	user, nice, system, idle, iowait, irq, softirq, steal := v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7]
	busy := user + nice + system + irq + softirq
	return machineCPU{Busy: busy, Steal: steal, Total: busy + idle + iowait + steal}, nil
}

func readMachineCPU() (machineCPU, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return machineCPU{}, err
	}
	return parseMachineStat(b)
}

// cpuSnapshot is the CPU time of the processes under test and of the
// machine at one moment.
type cpuSnapshot struct {
	at      time.Time
	procs   map[string]time.Duration // by process name
	machine machineCPU
}

// snapshot reads the CPU time of every process in ps and of the machine.
func snapshot(ps []*proc) (cpuSnapshot, error) {
	s := cpuSnapshot{at: time.Now(), procs: make(map[string]time.Duration, len(ps))}
	for _, p := range ps {
		t, err := processCPU(p.pid())
		if err != nil {
			return s, fmt.Errorf("cpu of %s: %w", p.name, err)
		}
		s.procs[p.name] = t
	}
	var err error
	s.machine, err = readMachineCPU()
	return s, err
}

// cpuUsed is what happened between two snapshots.
type cpuUsed struct {
	procs map[string]time.Duration
	total time.Duration // the sum of procs
	other time.Duration // the machine's busy time not spent in procs or by excluded (wrk)
	steal time.Duration
	wall  time.Duration // between the snapshots
}

// used returns the CPU time spent between before and after; excluded is
// CPU time the caller knows about outside the processes (wrk's), which is
// not counted as "other".
func used(before, after cpuSnapshot, excluded time.Duration) cpuUsed {
	u := cpuUsed{procs: make(map[string]time.Duration, len(after.procs))}
	for name, t := range after.procs {
		d := t - before.procs[name]
		u.procs[name] = d
		u.total += d
	}
	u.other = max(0, after.machine.Busy-before.machine.Busy-u.total-excluded)
	u.steal = after.machine.Steal - before.machine.Steal
	u.wall = after.at.Sub(before.at)
	return u
}
