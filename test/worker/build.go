package worker

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// build is the cmd/demo binary of this test binary. It is package state on
// purpose: building once per test binary instead of once per test is what
// keeps a run of many multi-process tests short.
var build struct {
	once sync.Once
	dir  string // temporary directory to remove at exit; "" if none
	bin  string
	err  error
}

// Binary returns the path of the demo binary, building it on first use.
// A build failure fails the test with the compiler's output. Under
// go test -short, which starts no process, it skips the test instead; every
// Start passes here first.
func Binary(t testing.TB) string {
	t.Helper()
	if testing.Short() {
		t.Skip("worker: needs demo worker processes; run without -short (scripts/test.sh)")
	}
	build.once.Do(func() {
		if bin := os.Getenv("SESSIONMESH_DEMO"); bin != "" {
			build.bin = bin
			return
		}
		build.dir, build.bin, build.err = buildDemo()
	})
	if build.err != nil {
		t.Fatalf("worker: %v", build.err)
	}
	return build.bin
}

// Exit removes the built binary and exits with code. Pass it to
// goleak.VerifyTestMain as goleak.Cleanup(worker.Exit).
func Exit(code int) {
	if build.dir != "" {
		_ = os.RemoveAll(build.dir)
	}
	os.Exit(code)
}

// buildDemo runs go build ./cmd/demo in the module root.
func buildDemo() (dir, bin string, err error) {
	root, err := moduleRoot()
	if err != nil {
		return "", "", err
	}
	dir, err = os.MkdirTemp("", "sessionmesh-demo-")
	if err != nil {
		return "", "", fmt.Errorf("build demo: %w", err)
	}
	bin = filepath.Join(dir, "demo")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/demo")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return dir, "", fmt.Errorf("go build ./cmd/demo in %s: %w\n%s", root, err, out)
	}
	return dir, bin, nil
}

// moduleRoot finds the directory of the go.mod that contains this test.
func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(bytes.TrimSpace(out)))
	if gomod == "" || gomod == os.DevNull {
		return "", fmt.Errorf("go env GOMOD: not inside a module")
	}
	return filepath.Dir(gomod), nil
}
