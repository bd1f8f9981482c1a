// Command demo is the sessionmesh demo worker: Geddy's session counter in Go,
// plus a login/logout pair, health endpoints and graceful shutdown.
//
// Routes:
//
//	GET /            increments the session's "counter" and returns it: "N\n"
//	GET /peek        returns the counter without changing it
//	POST /login      with the form body user=NAME: renews the session ID
//	                 (against fixation) and stores the user, also as the
//	                 session's principal; remember=1 in the form gives the
//	                 session the rememberMe timeouts (30 days by default)
//	POST /logout     destroys the session
//	POST /logout-everywhere
//	                 ends every session of the user, on every device
//	                 (Manager.RevokePrincipal; 501 unless the revoke block
//	                 names a store, e.g. SESSIONS_REVOKE_STORE=memory)
//	GET /whoami      returns the logged-in user (401 when there is none)
//	GET /healthz     200 "ok" while the process runs
//	GET /readyz      200 while serving; 503 while starting (a cluster node
//	                 pulling its partitions) and while draining
//
// A browser (Accept: text/html) gets GET / and /peek as the demo's page
// instead: the counter, the worker that served it, the cluster node that
// owns the session, an increment button, login and logout forms, and a
// link to the status page (the admin listener's port on the host the
// browser asked for). /login and /logout then answer with 303 to /peek.
// Anything else (curl, scripts, test/loadcheck, test/bench) gets the
// plain answers above, byte for byte; the pages are made from the same
// load and save. Pages are embedded html/template files (no external
// asset) sent with a Content-Security-Policy that lets only their own
// style and script run (a nonce per response) and nosniff.
//
// The admin listener (-admin ADDR, default 127.0.0.1:8081; "off" for none)
// serves, apart from the application's port, what only operators need:
//
//	GET /cluster     JSON (only with the shared memory store,
//	                 sessions.cluster): members, epoch, readiness, quorum,
//	                 the copies the cluster is short of ("underReplicated",
//	                 0 when every session has N copies), per node its
//	                 sessions and how many partitions it is primary and
//	                 backup for; ?verbose=1 adds the partition lists. The
//	                 answer is at most a second old: each one asks every
//	                 member, so a flood of requests shares one. A
//	                 browser gets the status page: the members and their
//	                 state, the partition ring in SVG, sessions, memory,
//	                 copies short; it fetches itself again every 2s
//	GET /metrics     Prometheus metrics (package metrics): the store's
//	                 calls, the memory store's or the cluster node's
//	                 counters, memberlist's, the Go runtime's and the
//	                 process's; each worker its own
//	GET /readyz, GET /healthz  as on the application's port
//
// The application's port answers /cluster and /metrics with 404: they
// name nodes and internal addresses, and /cluster costs peer calls.
//
// /login and /logout answer 405 to other methods, and a cross-origin POST
// from a browser (login or logout CSRF) gets 403 (http.CrossOriginProtection):
//
//	curl -c jar -b jar -d user=alice localhost:8080/login     # POST
//	curl -c jar -b jar -X POST localhost:8080/logout
//
// SIGHUP re-reads the cluster's secret file (sessions.cluster.secretFile)
// and applies it to the running node: a rotation of the cluster secret
// without restarts (README, "Rotate the cluster secret"). The node logs
// "cluster: secrets changed" with the IDs of its secrets; a file that
// cannot be read or holds a bad list is logged and changes nothing. With
// sessions.cluster.tls, SIGHUP reads the CA, certificate and key files
// again too (README, "TLS between workers"): new peer connections use them,
// established ones keep working; the node logs "cluster: certificates
// reloaded", and a file that cannot be read, or a certificate that does not
// name this worker, is logged and changes nothing.
//
// -pprof ADDR serves net/http/pprof on a listener of its own (off by
// default; keep it on loopback), e.g. for
// go tool pprof http://127.0.0.1:6060/debug/pprof/profile?seconds=10.
//
// Every response names the worker in X-Served-By (flag -name); with the
// shared memory store, responses that use the session name the node that
// owns it in X-Session-Owner. The store
// comes from -config FILE (YAML or JSON with a top-level "sessions:" block)
// and the SESSIONS_* environment variables (see package stores); the
// default is the in-process memory store. On SIGTERM or SIGINT the worker
// reports not-ready, waits -drain for balancers to notice, drains the store
// while it still serves (a cluster node hands its sessions to the other
// nodes, at most -shutdown-timeout), then finishes the requests in flight
// (at most -shutdown-timeout again) and closes the store.
//
// The HTTP server bounds every request (limits.go): its headers to 16 KiB,
// reading it, body included, to 10s, the whole exchange to 10s plus
// -request-timeout plus 5s to write the answer, and an idle keep-alive
// connection to 60s; /login reads at most 4 KiB of body (413 beyond).
//
// A request that uses the session may take -request-timeout (default
// 1.5s); a save after that is refused with 503 rather than written late
// (httpmw.WithTimeout). The default is below the 2s after which
// test/loadcheck gives up on a worker and retries on the next one: a
// request that was given up on (its worker frozen or cut off meanwhile)
// must not overwrite the counter its retry already incremented.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/sessionmesh/sessionmesh/session"
	"github.com/sessionmesh/sessionmesh/stores"
)

// defaultRequestTimeout is -request-timeout's default; see the package doc.
const defaultRequestTimeout = 1500 * time.Millisecond

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	context.AfterFunc(ctx, stop) // a second signal kills at once, without draining
	err := run(ctx, os.Args[1:], os.LookupEnv, os.Stderr, nil)
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

// options are the command-line flags.
type options struct {
	addr            string
	config          string
	name            string
	drain           time.Duration
	shutdownTimeout time.Duration
	requestTimeout  time.Duration
	admin           string // the admin listener's address (/cluster); "" or "off" = none (admin.go)
	pprof           string // net/http/pprof listen address; "" = off (pprof.go)
	healthcheck     bool   // probe a running worker's /healthz and exit (healthcheck.go)
	// limits are the HTTP server's timeouts and sizes: not flags, set from
	// the constants in limits.go (tests shorten them).
	limits limits
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	host, _ := os.Hostname()
	var o options
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.addr, "addr", ":8080", "HTTP listen address")
	fs.StringVar(&o.config, "config", "", "config file (.yaml, .yml or .json) with a sessions: block; SESSIONS_* variables override it")
	fs.StringVar(&o.name, "name", host, "worker name, sent in the X-Served-By header, and its cluster member name unless SESSIONS_CLUSTER_NAME says otherwise")
	fs.DurationVar(&o.drain, "drain", 0, "on SIGTERM, how long /readyz answers 503 before the store drains and the server stops accepting requests")
	fs.DurationVar(&o.shutdownTimeout, "shutdown-timeout", 10*time.Second, "on SIGTERM, how long the store's drain may take, and then how long requests in flight may take to finish")
	fs.DurationVar(&o.requestTimeout, "request-timeout", defaultRequestTimeout, "how long a request may take; a session save after that is refused (503) rather than written late. Keep it below the time after which clients or the balancer retry elsewhere (0: no bound)")
	fs.StringVar(&o.admin, "admin", defaultAdminAddr, "serve GET /cluster (and /readyz, /healthz) on this address, apart from -addr; keep it on loopback or a private network; \"off\" or empty: none")
	fs.StringVar(&o.pprof, "pprof", "", "serve net/http/pprof on this address (e.g. 127.0.0.1:6060; keep it on loopback); empty: off")
	fs.BoolVar(&o.healthcheck, "healthcheck", false, "check the worker listening on -addr (GET /healthz) and exit 0 if healthy, 1 if not")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	o.limits = defaultLimits(o.requestTimeout)
	return o, nil
}

// loadConfig reads the config file (if any) and applies the environment.
func loadConfig(path string, lookup func(string) (string, bool)) (stores.Config, error) {
	cfg := stores.DefaultConfig()
	if path != "" {
		var err error
		if cfg, err = stores.Load(path); err != nil {
			return cfg, err
		}
	}
	err := cfg.ApplyEnv(lookup)
	return cfg, err
}

// run is the whole program; listening, when set, learns the bound
// addresses (tests listen on port 0).
func run(ctx context.Context, args []string, lookup func(string) (string, bool), stderr io.Writer, listening func(bound)) error {
	o, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	if o.healthcheck {
		return healthcheck(ctx, o.addr)
	}
	logger := slog.New(slog.NewTextHandler(stderr, nil)).With("worker", o.name)
	cfg, err := loadConfig(o.config, lookup)
	if err != nil {
		return err
	}
	cfg.Logger = logger
	if cfg.Cluster != nil && cfg.Cluster.Name == "" {
		// The worker's name is its member name too (the status page and
		// the logs then say w1, not the host name), unless the config
		// names the member (cluster.name, which TLS certificates name).
		cfg.Cluster.Name = o.name
	}
	st, err := stores.Open(cfg)
	if err != nil {
		return err
	}
	defer closeStore(st, logger)
	defer reloadOnHUP(cfg, st, logger)()
	reg, ist, err := instrument(st)
	if err != nil {
		return err
	}
	rv, err := stores.OpenRevoker(cfg, st) // nil unless the revoke block names a store
	if err != nil {
		return err
	}
	defer stores.CloseRevoker(rv)
	sc := cfg.Session(ist)
	sc.Revoker = rv
	m, err := session.NewManager(sc)
	if err != nil {
		return err
	}
	ln, adminLn, err := listen(o)
	if err != nil {
		return err
	}
	if listening != nil {
		listening(bound{http: ln.Addr(), admin: addrOf(adminLn)})
	}
	if o.pprof != "" {
		stopPprof, err := startPprof(o.pprof, logger)
		if err != nil {
			closeAll(ln, adminLn)
			return err
		}
		defer stopPprof()
	}
	d := newDemo(o.name, m, logger)
	d.timeout = o.requestTimeout
	if err := d.serveMetrics(reg); err != nil {
		return err
	}
	if adminLn != nil {
		_, d.adminPort, _ = net.SplitHostPort(adminLn.Addr().String())
		defer d.serveAdmin(adminLn, o)() // stops after serve, before the store closes
	}
	logger.Info("demo: serving", "addr", ln.Addr().String(), "store", cfg.Store)
	return serve(ctx, ln, d, o)
}

// bound is where a started worker listens: the application's address and
// the admin listener's (nil when -admin is off).
type bound struct{ http, admin net.Addr }

// listen binds the application's port (-addr) and the admin listener
// (-admin; nil when off).
func listen(o options) (ln, admin net.Listener, err error) {
	if ln, err = net.Listen("tcp", o.addr); err != nil {
		return nil, nil, fmt.Errorf("listen: %w", err)
	}
	if admin, err = listenAdmin(o.admin); err != nil {
		ln.Close()
		return nil, nil, err
	}
	return ln, admin, nil
}

func addrOf(ln net.Listener) net.Addr {
	if ln == nil {
		return nil
	}
	return ln.Addr()
}

func closeAll(lns ...net.Listener) {
	for _, ln := range lns {
		if ln != nil {
			ln.Close()
		}
	}
}

// serve runs the HTTP server on ln until ctx ends, then shuts down in the
// order that loses no request (see shutdown).
func serve(ctx context.Context, ln net.Listener, d *demo, o options) error {
	srv := httpServer(d.routes(), o.limits, d.log)
	// Ready before Serve starts: the listener is bound, so connections
	// queue, and no request can see a not-ready worker that is serving.
	d.ready.Store(true)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	err := d.shutdown(srv, o)
	<-served // http.ErrServerClosed once Shutdown has begun
	if err != nil {
		return err
	}
	d.log.Info("demo: stopped")
	return nil
}

// shutdown stops a worker gracefully:
//
//  1. /readyz answers 503, and for -drain the worker keeps serving as
//     before, so balancers that poll it stop sending new users here;
//  2. the store drains (a cluster node hands every session it holds to
//     the partitions' new owners) while the HTTP server still answers:
//     requests that reach this worker meanwhile are routed by the
//     cluster's table to the nodes that now own their sessions, so a
//     balancer that has not noticed yet loses nothing;
//  3. the HTTP server stops accepting and lets the requests in flight
//     finish (at most -shutdown-timeout); the drained store still routes
//     them to the owners, so none fails.
//
// The store is closed by run afterwards: a cluster node leaves the
// cluster only then. An incomplete drain is an error: the exit status
// says that some sessions may have fewer copies than configured.
func (d *demo) shutdown(srv *http.Server, o options) error {
	d.ready.Store(false)
	d.log.Info("demo: draining", "drain", o.drain, "timeout", o.shutdownTimeout)
	time.Sleep(o.drain) // balancers poll /readyz; give them time to stop sending
	drainErr := d.drainStore(o.shutdownTimeout)
	sctx, cancel := context.WithTimeout(context.Background(), o.shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return errors.Join(drainErr, fmt.Errorf("shutdown: %w", err))
	}
	return drainErr
}

// drainStore drains a store that holds data other processes need, within
// timeout.
func (d *demo) drainStore(timeout time.Duration) error {
	if d.drainer == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	start := time.Now()
	if err := d.drainer.HandOff(ctx); err != nil {
		return fmt.Errorf("drain store: %w", err)
	}
	d.log.Info("demo: store drained", "took", time.Since(start).Round(time.Millisecond))
	return nil
}

func closeStore(st session.Store, logger *slog.Logger) {
	if err := stores.Close(st); err != nil {
		logger.Error("demo: close store", "err", err)
	}
}
