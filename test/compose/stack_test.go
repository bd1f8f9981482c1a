package compose

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sessionmesh/sessionmesh/internal/servertest"
)

const (
	// cmdTimeout bounds one docker or compose command; buildTimeout an
	// image build: the look-alikes (the golang one copies a Go toolchain)
	// or the demo's, which compiles cmd/demo from cold in its build stage
	// (some 5 minutes on a busy 2-core machine).
	cmdTimeout   = 2 * time.Minute
	buildTimeout = 12 * time.Minute
	// readyTimeout bounds how long workers may take to be healthy and
	// reachable through the balancer after a start or a store switch.
	readyTimeout = 90 * time.Second
	// pollEvery is the pause between two probes of a condition.
	pollEvery = 500 * time.Millisecond
)

// localImages are the images the test builds when the environment names
// none: the demo from this checkout (through the Dockerfile's build stage,
// FROM GO_IMAGE), the rest from the host's binaries and Go toolchain by
// scripts/docker-local-images.sh, each under that script's name for it.
var localImages = map[string]struct{ image, script string }{
	"DEMO_IMAGE":      {"sessionmesh/demo:local", ""},
	"REDIS_IMAGE":     {"sessionmesh/redis:local", "redis"},
	"MEMCACHED_IMAGE": {"sessionmesh/memcached:local", "memcached"},
	"LB_IMAGE":        {"sessionmesh/haproxy:local", "haproxy"},
	"GO_IMAGE":        {"sessionmesh/golang:local", "golang"},
}

// stack is one compose project made from the repository's
// docker-compose.yml, isolated from the developer's: its own project name,
// secret and balancer port, and an empty env file so that a .env in the
// checkout changes nothing.
type stack struct {
	root      string   // repository root: docker-compose.yml, scripts/
	compose   []string // "docker compose" or "docker-compose"
	project   string
	lbURL     string            // http://127.0.0.1:PORT
	adminURL  string            // the balancer's admin frontend: the workers' GET /cluster
	stickyURL string            // the balancer's sticky frontend (SRV cookie)
	env       map[string]string // variables docker-compose.yml reads
	envFile   string
}

// container is one running worker.
type container struct {
	ID       string
	Name     string // e.g. smtest1234_worker_2
	Hostname string // what the worker answers in X-Served-By
}

func (c container) String() string { return c.Name + " (" + c.Hostname + ")" }

// newStack checks for docker, builds the images and returns a stack that
// is torn down when the test ends. It does not start it. Under
// go test -short, which starts no container, it skips the test.
func newStack(t *testing.T) *stack {
	if testing.Short() {
		t.Skip("compose: needs docker and the compose stack's containers; run without -short (scripts/test.sh)")
	}
	root, err := filepath.Abs("../..")
	if err != nil || !exists(filepath.Join(root, "docker-compose.yml")) {
		t.Fatalf("compose: repository root with docker-compose.yml not found from %s (err %v)", root, err)
	}
	s := &stack{root: root, compose: findCompose(t), project: projectPrefix + randomHex(4)}
	sweepStale(t)
	port, adminPort, stickyPort := servertest.FreePort(t), servertest.FreePort(t), servertest.FreePort(t)
	s.lbURL = "http://127.0.0.1:" + strconv.Itoa(port)
	s.stickyURL = "http://127.0.0.1:" + strconv.Itoa(stickyPort)
	s.adminURL = "http://127.0.0.1:" + strconv.Itoa(adminPort)
	s.env = map[string]string{
		"SESSIONS_STORE":            "memory",
		"SESSIONS_CLUSTER_SECRET":   newSecret(),
		"SESSIONS_CLUSTER_REPLICAS": "2",
		"LB_BIND":                   "127.0.0.1",
		"LB_PORT":                   strconv.Itoa(port),
		"LB_ADMIN_BIND":             "127.0.0.1",
		"LB_ADMIN_PORT":             strconv.Itoa(adminPort),
		"LB_STICKY_PORT":            strconv.Itoa(stickyPort),
	}
	s.envFile = filepath.Join(t.TempDir(), "empty.env")
	if err := os.WriteFile(s.envFile, nil, 0o600); err != nil {
		t.Fatalf("compose: write empty env file: %v", err)
	}
	s.buildImages(t)
	t.Cleanup(func() { s.teardown(t) })
	return s
}

// projectPrefix starts the name of every compose project this test makes.
const projectPrefix = "smtest"

// staleAfter is the age past which a project of this test is left over
// from a run that died without its cleanup (go test's timeout panics, a
// kill): no run lasts that long, and a younger one may be a run going on
// right now beside this one.
const staleAfter = 30 * time.Minute

// sweepStale removes the containers and networks of projects that earlier
// runs of this test left behind.
func sweepStale(t *testing.T) {
	out, _, err := execute(cmdTimeout, exec.Command("docker", "ps", "-a", "--filter", "label=com.docker.compose.project",
		"--format", `{{.ID}}|{{.Label "com.docker.compose.project"}}|{{.CreatedAt}}`))
	if err != nil {
		t.Fatalf("compose: list containers: %v", err)
	}
	stale := map[string][]string{} // project -> container IDs
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		id, rest, _ := strings.Cut(line, "|")
		project, created, _ := strings.Cut(rest, "|")
		at, err := time.Parse("2006-01-02 15:04:05 -0700 MST", created)
		if strings.HasPrefix(project, projectPrefix) && err == nil && time.Since(at) > staleAfter {
			stale[project] = append(stale[project], id)
		}
	}
	for project, ids := range stale {
		t.Logf("compose: removing project %s, left over by an earlier run", project)
		_, _, _ = execute(cmdTimeout, exec.Command("docker", append([]string{"rm", "-f", "-v"}, ids...)...))
		for _, network := range []string{"_front", "_cluster", "_default"} {
			_, _, _ = execute(cmdTimeout, exec.Command("docker", "network", "rm", project+network))
		}
	}
}

// findCompose returns the compose command here: the v2 plugin if the
// docker CLI has it, else docker-compose (v1 or v2 standalone).
func findCompose(t *testing.T) []string {
	if _, err := exec.LookPath("docker"); err != nil {
		t.Fatalf("compose: docker is required by this test and is not in PATH: install Docker Engine and docker-compose (or the compose plugin)")
	}
	if out, err := exec.Command("docker", "info", "-f", "{{.ServerVersion}}").CombinedOutput(); err != nil {
		t.Fatalf("compose: docker is installed but the engine does not answer (is dockerd running, may this user use it?): %v: %s", err, out)
	}
	if exec.Command("docker", "compose", "version").Run() == nil {
		return []string{"docker", "compose"}
	}
	if _, err := exec.LookPath("docker-compose"); err == nil {
		return []string{"docker-compose"}
	}
	t.Fatalf("compose: neither the docker compose plugin nor docker-compose is installed; this test needs one")
	return nil
}

// buildImages fills s.env with the images to run: those the environment
// names are used as they are, the others are built here: first the
// look-alikes, then the demo, whose build stage is GO_IMAGE (needed only
// when the demo is built).
func (s *stack) buildImages(t *testing.T) {
	buildDemo := os.Getenv("DEMO_IMAGE") == ""
	var lookAlikes []string // docker-local-images.sh's names of those to build
	for name, local := range localImages {
		s.env[name] = os.Getenv(name)
		if s.env[name] == "" {
			s.env[name] = local.image
			if local.script != "" && (name != "GO_IMAGE" || buildDemo) {
				lookAlikes = append(lookAlikes, local.script)
			}
		}
	}
	if len(lookAlikes) > 0 {
		cmd := s.scriptCmd("scripts/docker-local-images.sh",
			"REDIS_LOCAL="+localImages["REDIS_IMAGE"].image, "MEMCACHED_LOCAL="+localImages["MEMCACHED_IMAGE"].image,
			"LB_LOCAL="+localImages["LB_IMAGE"].image, "GOLANG_LOCAL="+localImages["GO_IMAGE"].image)
		slices.Sort(lookAlikes)
		cmd.Args = append(cmd.Args, lookAlikes...)
		s.run(t, buildTimeout, cmd)
	}
	if buildDemo {
		s.run(t, buildTimeout, s.scriptCmd("scripts/docker-build.sh",
			"DEMO_IMAGE="+s.env["DEMO_IMAGE"], "GO_IMAGE="+s.env["GO_IMAGE"]))
	}
	demo := s.env["DEMO_IMAGE"]
	if buildDemo {
		demo += " (built FROM " + s.env["GO_IMAGE"] + ")"
	}
	t.Logf("images: demo %s, redis %s, memcached %s, balancer %s",
		demo, s.env["REDIS_IMAGE"], s.env["MEMCACHED_IMAGE"], s.env["LB_IMAGE"])
}

// scriptCmd runs one of the repository's scripts with extra variables.
func (s *stack) scriptCmd(script string, env ...string) *exec.Cmd {
	cmd := exec.Command("bash", filepath.Join(s.root, script))
	cmd.Env = append(os.Environ(), env...)
	cmd.Dir = s.root
	return cmd
}

// up brings the stack up with the given store (memory, redis, memcache)
// and extra "up" flags, e.g. "--scale", "worker=5"; compose recreates the
// workers whose configuration changed.
func (s *stack) up(t *testing.T, store string, flags ...string) {
	t.Logf("compose: up with SESSIONS_STORE=%s %s", store, strings.Join(flags, " "))
	s.env["SESSIONS_STORE"] = store
	s.composeRun(t, append([]string{"up", "-d", "--no-build"}, flags...)...)
}

// teardown prints the logs when the test failed and removes the project:
// containers, network and volumes. It runs from t.Cleanup.
func (s *stack) teardown(t *testing.T) {
	if t.Failed() {
		out, errs, _ := execute(cmdTimeout, s.composeCmd("logs", "--no-color", "--tail", "40"))
		t.Logf("compose: logs of the failed run (last 40 lines per container):\n%s%s", out, errs)
	}
	t.Logf("compose: down (teardown of project %s)", s.project)
	_, errs, err := execute(cmdTimeout, s.composeCmd("down", "-v", "--remove-orphans", "-t", "5"))
	if err != nil {
		t.Errorf("compose: teardown of project %s failed, remove it by hand (docker ps -a): %v\n%s", s.project, err, errs)
	}
}

// stepLogs prints every worker's whole log since a failed step began:
// the last lines at teardown come from later steps, which restart the
// workers, and a lost write needs the log of the moment it was lost.
func (s *stack) stepLogs(t *testing.T, since time.Time) {
	ids, _, err := execute(cmdTimeout, s.composeCmd("ps", "-q", "worker"))
	if err != nil {
		t.Logf("compose: no worker logs for the failed step: %v", err)
		return
	}
	for _, id := range strings.Fields(ids) {
		out, errs, _ := execute(cmdTimeout, exec.Command("docker", "logs", "--since", since.Format(time.RFC3339Nano), id))
		t.Logf("compose: log of worker %.12s since the step began:\n%s%s", id, out, errs)
	}
}

// composeRun runs a compose command against the stack and returns stdout.
func (s *stack) composeRun(t *testing.T, args ...string) string {
	return s.run(t, cmdTimeout, s.composeCmd(args...))
}

func (s *stack) composeCmd(args ...string) *exec.Cmd {
	full := append(append([]string{}, s.compose[1:]...),
		"--env-file", s.envFile, "-f", filepath.Join(s.root, "docker-compose.yml"), "-p", s.project)
	cmd := exec.Command(s.compose[0], append(full, args...)...)
	cmd.Env = append(cleanEnviron(), envList(s.env)...)
	cmd.Dir = s.root
	return cmd
}

// docker runs a docker command and returns stdout.
func (s *stack) docker(t *testing.T, args ...string) string {
	return s.run(t, cmdTimeout, exec.Command("docker", args...))
}

// run runs cmd, logging it; on failure it fails the test with the
// command's output. It returns stdout, trimmed.
func (s *stack) run(t *testing.T, timeout time.Duration, cmd *exec.Cmd) string {
	t.Helper()
	t.Logf("$ %s", strings.Join(cmd.Args, " "))
	stdout, stderr, err := execute(timeout, cmd)
	if err != nil {
		t.Fatalf("compose: %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(cmd.Args, " "), err, stdout, stderr)
	}
	return strings.TrimSpace(stdout)
}

// execute runs cmd, killing it after timeout.
func execute(timeout time.Duration, cmd *exec.Cmd) (stdout, stderr string, err error) {
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		return "", "", err
	}
	timer := time.AfterFunc(timeout, func() { _ = cmd.Process.Kill() })
	err = cmd.Wait()
	if !timer.Stop() {
		err = fmt.Errorf("killed after %v: %w", timeout, err)
	}
	return out.String(), errb.String(), err
}

// workers returns the running worker containers, in compose's order.
func (s *stack) workers(t *testing.T) []container {
	ids := strings.Fields(s.composeRun(t, "ps", "-q", "worker"))
	if len(ids) == 0 {
		t.Fatalf("compose: no worker containers in project %s", s.project)
	}
	format := `{{json .Id}} {{json .Name}} {{json .Config.Hostname}}`
	var out []container
	for _, line := range strings.Split(s.docker(t, append([]string{"inspect", "-f", format}, ids...)...), "\n") {
		var c container
		if err := scanJSON(line, &c.ID, &c.Name, &c.Hostname); err != nil {
			t.Fatalf("compose: parse docker inspect line %q: %v", line, err)
		}
		c.Name = strings.TrimPrefix(c.Name, "/")
		out = append(out, c)
	}
	return out
}

// clusterNetwork returns the compose network that carries a worker's
// gossip and session traffic (docker-compose.yml's "cluster") and the
// worker's aliases there ("peers" among them: the seed the cluster
// joins), so that it can be re-attached exactly.
func (s *stack) clusterNetwork(t *testing.T, c container) (name string, aliases []string) {
	raw := s.docker(t, "inspect", "-f", "{{json .NetworkSettings.Networks}}", c.ID)
	var nets map[string]struct{ Aliases []string }
	if err := json.Unmarshal([]byte(raw), &nets); err != nil {
		t.Fatalf("compose: %s: parse its networks %s: %v", c, raw, err)
	}
	for name, n := range nets {
		if strings.HasSuffix(name, "_cluster") {
			return name, n.Aliases
		}
	}
	t.Fatalf("compose: %s is on no network named *_cluster: %s", c, raw)
	return "", nil
}

// health returns the Docker health status of a container ("starting",
// "healthy", "unhealthy", or "" when it has no health check). It is polled,
// so it is not logged.
func (s *stack) health(t *testing.T, c container) string {
	cmd := exec.Command("docker", "inspect", "-f", "{{if .State.Health}}{{.State.Health.Status}}{{end}}", c.ID)
	stdout, stderr, err := execute(cmdTimeout, cmd)
	if err != nil {
		t.Fatalf("compose: docker inspect %s: %v: %s", c, err, stderr)
	}
	return strings.TrimSpace(stdout)
}

// waitHealthy waits until every worker's HEALTHCHECK (/demo -healthcheck)
// passes.
func (s *stack) waitHealthy(t *testing.T, ws []container) {
	for _, c := range ws {
		poll(t, readyTimeout, "docker health of "+c.String(), func() (bool, string) {
			h := s.health(t, c)
			return h == "healthy", "status " + strconv.Quote(h)
		})
	}
}

// poll calls probe until it reports done, failing the test with what and
// the last detail when timeout passes first.
func poll(t *testing.T, timeout time.Duration, what string, probe func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		done, detail := probe()
		if done {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("compose: %s: not within %v: %s", what, timeout, detail)
		}
		time.Sleep(pollEvery)
	}
}

// cleanEnviron is the test's environment without the variables
// docker-compose.yml reads, so that a developer's shell changes nothing.
func cleanEnviron() []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "SESSIONS_") || strings.HasPrefix(name, "COMPOSE_") ||
			strings.HasPrefix(name, "LB_") || localImages[name].image != "" {
			continue
		}
		env = append(env, kv)
	}
	return env
}

func envList(m map[string]string) []string {
	var out []string
	for k, v := range m {
		out = append(out, k+"="+v)
	}
	return out
}

func scanJSON(line string, dst ...*string) error {
	dec := json.NewDecoder(strings.NewReader(line))
	for _, d := range dst {
		if err := dec.Decode(d); err != nil {
			return err
		}
	}
	return nil
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails (Go 1.24+)
	return fmt.Sprintf("%x", b)
}

// newSecret is a fresh cluster secret: base64 of 32 random bytes, as
// scripts/docker-env.sh writes it.
func newSecret() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}
