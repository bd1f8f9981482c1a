package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"time"
)

// maxProfile bounds the CPU profile -profile takes (by default of the
// shared memory store behind round-robin, where most loads and saves cross
// to another worker, in the counter workload).
const maxProfile = 10 * time.Second

// wantsProfile reports whether the run of c and w is the one to profile.
func (b *bench) wantsProfile(c benchCase, w workload) bool {
	return b.opts.Profile != "" && !b.profiled && c.Name == b.opts.ProfileCase && w.Name == b.opts.ProfileLoad
}

// startProfile fetches a CPU profile of d (at most maxProfile) from the
// pprof server at base into path, in the background; the returned wait
// gives its error once it is written.
func startProfile(ctx context.Context, base, path string, d time.Duration) (wait func() error) {
	secs := int(min(d, maxProfile).Seconds())
	done := make(chan error, 1)
	go func() { done <- fetchProfile(ctx, fmt.Sprintf("%s/debug/pprof/profile?seconds=%d", base, secs), path) }()
	return func() error { return <-done }
}

func fetchProfile(ctx context.Context, url, path string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("profile: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("profile: GET %s: %s", url, resp.Status)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return fmt.Errorf("profile: %w", err)
	}
	return f.Close()
}

// profileTop writes the top of the profile, by cumulative time, to
// path.txt (go tool pprof -top -cum).
func profileTop(bin, path string) error {
	out, err := exec.Command("go", "tool", "pprof", "-top", "-cum", "-nodecount=40", bin, path).CombinedOutput()
	if err != nil {
		return fmt.Errorf("go tool pprof: %w\n%s", err, out)
	}
	return os.WriteFile(path+".txt", out, 0o644)
}
