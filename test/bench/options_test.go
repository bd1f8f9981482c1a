package main

import (
	"io"
	"os"
	"slices"
	"testing"
	"time"
)

func TestParseCounts(t *testing.T) {
	got, err := parseCounts("10k, 100K,1500,1m")
	if want := []int{10000, 100000, 1500, 1000000}; err != nil || !slices.Equal(got, want) {
		t.Fatalf("parseCounts = %v, %v; want %v", got, err, want)
	}
	for _, bad := range []string{"", "0", "-5", "ten", "10k,"} {
		if _, err := parseCounts(bad); err == nil {
			t.Errorf("parseCounts(%q) accepted it", bad)
		}
	}
}

func TestParseFlags(t *testing.T) {
	o, err := parseFlags(nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if o.Duration != 10*time.Second || o.Connections != 32 || !slices.Equal(o.Sessions, []int{10000, 100000}) ||
		len(o.Cases) != len(allCases())-len(onlyNamed) || len(o.Workloads) != 2 || o.Repeat != 1 {
		t.Fatalf("defaults: %+v", o)
	}
	// -quick changes the defaults, not what the command line says
	o, err = parseFlags([]string{"-quick", "-duration", "3s", "-cases", "redis-rr,bare", "-workloads", "read"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if o.Duration != 3*time.Second || o.Warmup != time.Second || !slices.Equal(o.Sessions, []int{1000}) {
		t.Errorf("-quick -duration 3s: duration %v warmup %v sessions %v; want 3s, 1s, [1000]", o.Duration, o.Warmup, o.Sessions)
	}
	if names := caseNames(o.Cases); !slices.Equal(names, []string{"bare", "redis-rr"}) {
		t.Errorf("-cases redis-rr,bare = %v, want table order [bare redis-rr]", names)
	}
	if len(o.Workloads) != 1 || o.Workloads[0].Reads != 9 {
		t.Errorf("-workloads read = %+v", o.Workloads)
	}
	for _, bad := range [][]string{
		{"-cases", "mongo"}, {"-workloads", "write"}, {"-duration", "500ms"},
		{"-threads", "4", "-c", "2"}, {"-repeat", "0"}, {"extra"},
		{"-cases", "memory-1-base"}, {"-cases", "memory-1-base", "-demo-base", t.TempDir()},
	} {
		if _, err := parseFlags(bad, io.Discard); err == nil {
			t.Errorf("parseFlags(%q) accepted it", bad)
		}
	}
}

// memory-1-base runs the -demo-base binary; "all" leaves it out.
func TestDemoBase(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	o, err := parseFlags([]string{"-cases", "memory-1,memory-1-base,bare", "-demo-base", self}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if names := caseNames(o.Cases); !slices.Equal(names, []string{"bare", "memory-1", "memory-1-base"}) || o.DemoBase != self {
		t.Errorf("cases %v, demo-base %q", names, o.DemoBase)
	}
	if o, err = parseFlags([]string{"-demo-base", self}, io.Discard); err != nil || slices.Contains(caseNames(o.Cases), "memory-1-base") {
		t.Errorf("-cases all with -demo-base: %v, %v; want every case but memory-1-base", caseNames(o.Cases), err)
	}
}

func TestCaseTable(t *testing.T) {
	cases := allCases()
	names := caseNames(cases)
	for _, c := range cases {
		if c.Redis != "" && !slices.Contains(names, c.Redis) {
			t.Errorf("%s compares with unknown case %q", c.Name, c.Redis)
		}
		if c.Three != (c.Mode != modeDirect) {
			t.Errorf("%s: three workers %v but mode %s", c.Name, c.Three, c.Mode)
		}
	}
	if got := setupsOf(cases); len(got) != 10 || got[0] != setupLoadgen {
		t.Errorf("setupsOf = %v", got)
	}
	if got := modesOf(casesOf(cases, setupShared)); !slices.Equal(got, []string{modeRR, modeSticky}) {
		t.Errorf("modes of shared-3 = %v", got)
	}
}
