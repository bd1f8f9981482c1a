package cluster

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/memberlist"

	"github.com/sessionmesh/sessionmesh/cluster/peer"
	"github.com/sessionmesh/sessionmesh/internal/netaddr"
)

// Config configures one node. Start from DefaultConfig (LAN timers) or
// DefaultLocalConfig (tight timers for tests and a demo on one machine); the
// zero value of a field means its default. New copies the Config: changing
// it afterwards has no effect (Store.SetSecrets changes the secrets,
// Store.ReloadCerts re-reads the certificates). Every
// node of a cluster must agree on Partitions and Replicas, and share a
// secret (Secret, Secrets) with every other node.
type Config struct {
	// Name prefixes the node name; the node name is Name + "-" + a random
	// boot ID, so a restarted worker is a new member and never inherits the
	// dead one's state by accident. Default: the host name.
	Name string

	// Bind is the "ip:port" memberlist listens on (UDP and TCP). Port 0
	// picks a free port. Default "0.0.0.0:7946".
	Bind string

	// Advertise is the "host[:port]" other nodes reach this node's gossip
	// on; a host name is resolved once at New. Default "": the bind IP
	// and the bind port. Bound to 0.0.0.0, a node advertises its own
	// address on the way to the first seed that resolves (the network its
	// seeds are on: give the cluster a network of its own and gossip and
	// session traffic stay on it), else a private IP.
	Advertise string

	// PeerBind is the "ip:port" the peer transport (session traffic)
	// listens on. Default "": Bind's IP and Bind's port + 1 (port 0 when
	// Bind's port is 0). Its advertised address travels in the node's
	// gossip metadata, so any port works.
	PeerBind string

	// Join lists seeds, "host[:port]" (default port 7946), host names
	// allowed (compose service names). Seeds that are not members are
	// re-joined every RejoinInterval, so a partition that outlived the
	// dead-node timeout still heals. Default none: a cluster of one that
	// others may join.
	Join []string

	// Replicas is N, the number of copies of every session: an
	// acknowledged write exists on N nodes (on fewer only while fewer
	// nodes are members). Higher survives more simultaneous crashes and
	// costs a write per copy. Default 2.
	Replicas int

	// Partitions is the fixed number of partitions the session space is
	// split into. Every node must use the same value. HRW assigns each
	// partition independently, so a node's share is binomial: with 271
	// partitions one of three nodes is often 20% over its share, with 4096
	// every node of 3 to 7 stays within 10% (TestTableSessionsSpreadEvenly).
	// More partitions cost a larger table and more, smaller transfers when
	// partitions move. Default 4096.
	Partitions int

	// Secret is the cluster secret, at least 16 bytes. Two keys are
	// derived from it: one encrypts and authenticates gossip (memberlist's
	// keyring, with GossipVerifyIncoming/Outgoing), the other authenticates
	// and encrypts peer traffic (AES-256-GCM, a key per connection and
	// direction; no forward secrecy: whoever records the traffic and later
	// learns the secret can read it; Certs adds TLS, which has it).
	// Required (it or Secrets), with Certs or TLS as well, unless
	// Insecure. It is the shorthand of Secrets with one secret: set one or
	// the other, not both.
	Secret []byte

	// Secrets is the list form of Secret, to change the secret while the
	// cluster serves (see "Key rotation" in the package doc). The first
	// secret encrypts and authenticates what this node sends (its gossip
	// key is memberlist's primary key; peer connections it dials prefer
	// it); every secret of the list is accepted from other nodes, for
	// gossip and peer traffic alike. Each is at least 16 bytes, none
	// twice, at most MaxSecrets. Store.SetSecrets replaces the list of a
	// running node. Default none.
	Secrets [][]byte

	// Insecure lets a node without a Secret run, on loopback addresses
	// only: its gossip and peer traffic are then neither authenticated nor
	// encrypted, so any local process (any container sharing the network
	// namespace) can read and forge every session. For tests and a demo on
	// one machine; New logs a warning. Default false.
	Insecure bool

	// Certs, when set, wraps peer connections in mutual TLS 1.3 with the
	// certificates of its files (LoadCerts), for forward secrecy and an
	// identity per member: each side checks that the other's certificate
	// was signed by the CA and names, as a URI SAN (MemberURI), the
	// member (Name) the other side claims to be in its peer hello, and
	// refuses the connection otherwise, logging why. This node's own
	// certificate must name its Name. Store.ReloadCerts reads the files
	// again while the node serves. The Secret stays required: gossip
	// (memberlist, UDP and TCP) is not TLS, and is still encrypted and
	// authenticated with the secret's gossip key; peer frames are still
	// sealed with the secret's peer keys inside TLS (defence in depth: a
	// stolen certificate alone does not make a member). Set Certs or TLS,
	// not both. Default nil: no TLS.
	Certs *Certs

	// TLS is Certs for a *tls.Config made by hand (Certs makes one), for
	// a PKI that files do not fit. It must present a certificate on both
	// sides and verify the other's: the name binding of Certs applies
	// (certificates must carry MemberURI), and Store.ReloadCerts does not.
	// Default nil: peer frames are encrypted and authenticated with keys
	// derived from the Secret only (see Secret).
	TLS *tls.Config

	// RejoinInterval is how often the seeds that are not members are
	// joined again. Default 30s (local: 1s).
	RejoinInterval time.Duration

	// BootstrapTimeout is how long a node with seeds (Join) that has not
	// joined any of them waits before it starts a cluster of its own, if
	// none of its seeds answers at all (it is the first worker of a new
	// cluster). Until it has joined, or started alone, it is not Ready and
	// serves nothing; a seed that answers but does not let it join (a
	// different cluster secret) keeps it so, and its log says why.
	// Default 30s (local 3s).
	BootstrapTimeout time.Duration

	// CallTimeout bounds one peer call when the caller's ctx allows
	// longer; after it the next replica is tried. Shorter fails over
	// faster; too short fails calls on a busy node. Default 2s (local 500ms).
	CallTimeout time.Duration

	// LeaveTimeout bounds the leave broadcast in Close. Default 5s
	// (local 500ms).
	LeaveTimeout time.Duration

	// DrainTimeout bounds the hand-off Close does before it stops (Drain
	// with this timeout): sessions not acknowledged by their new owners
	// by then are left behind (N-1 copies remain elsewhere). Longer
	// survives slower networks; it delays a stop. Default 30s (local 10s).
	DrainTimeout time.Duration

	// Snapshot, when set, is a file that keeps the sessions when every
	// worker stops: a node that drains writes what no other node took
	// (everything, when it is the last node) to it, atomically, sealed
	// with a key derived from the first of its secrets (SetSecrets
	// included; in the clear without one), mode 0600: it holds session
	// data. A node that starts loads
	// it before it listens, merges it by version (expired sessions are
	// dropped), and removes it. A crash (kill -9) of the last node writes
	// nothing. Each worker needs a file of its own. See snapshot.go and
	// "Snapshots" in the package doc. Default "": none.
	Snapshot string

	// TransferTimeout bounds one partition transfer: a source streaming
	// up to PullPartitions partitions to a node that pulls them (on join,
	// after a crash, on heal). A transfer that takes longer fails and is
	// retried. Default 1m (local 30s).
	TransferTimeout time.Duration

	// PullPartitions is how many partitions a node pulls at once, the
	// throttle of re-replication and rebalancing: each source scans its
	// sessions once per pull and streams the matching ones in batches,
	// one batch in flight. More moves data with fewer scans; fewer keeps
	// less work in flight. Default 1024.
	PullPartitions int

	// AntiEntropyInterval is how often a node compares per-partition
	// digests with the other replicas of the partitions it is primary
	// for, repairs what differs (newest version wins), and hands off the
	// copies of partitions it no longer owns. Each round scans the
	// node's sessions once, in 64 slices spread over a tenth of the
	// interval (about 0.2 us of CPU per session, BENCHMARKS.md). Default
	// 10s (local 5s).
	AntiEntropyInterval time.Duration

	// ReadLease is how long a backup serves loads of a partition from its
	// own copy, without asking the primary, after the primary granted it
	// a read lease (leases.go; renewed every ReadLease/3 for as long as the
	// backup gets loads, and for 10 ReadLeases after the last). While one is
	// live the primary acknowledges no write the backup lacks: a backup
	// that stops answering makes writes to the partitions it backs up wait
	// until its lease has run out (ReadLease and an eighth) once, and so
	// does a write on failover that a backup missed. Longer leases ride
	// out slower renewals; shorter ones bound that wait. At most half of
	// CallTimeout. Default 500ms (local 200ms); negative: backups never
	// serve loads, every load goes to the primary. Every node of a
	// cluster must agree on whether it is negative.
	ReadLease time.Duration

	// AvailableFirst turns the split-brain guard off. With the guard (the
	// default), reads and writes are refused with ErrNoQuorum, and Ready
	// is false, while this node sees no majority of the last stable
	// membership (see StableAfter and quorum.go; when exactly half is
	// seen, the half with the stable membership's first member by name
	// has it, so two workers split one way only). Reads too: a user who
	// reads a stale counter on the minority side and writes it back
	// elsewhere loses the writes in between. For the same reason a node
	// that serves a session without being its authority (on failover,
	// while pulling) refuses when not every replica answered, instead of
	// serving the copy it found. So no acknowledged write is lost when
	// the network splits, at the price of the minority's requests failing
	// (503) until it heals; with two workers, a crash of the first by
	// name also stops the other until a worker comes back.
	//
	// AvailableFirst keeps both sides of a split serving (the copy found,
	// possibly stale); the replicas converge by version after the heal,
	// counting conflicts, and writes made on both sides to the same
	// session are lost but one (measured: 8.4% of the acknowledged
	// increments of users spread over three workers, one of them cut off
	// for 12 s). Default false.
	AvailableFirst bool

	// StableAfter is how long the member set must stay unchanged to
	// become the last stable membership the quorum guard counts against.
	// A set that holds no majority of the previous stable one never
	// becomes stable (a minority cannot vote itself a quorum); members
	// that leave gracefully are removed from it at once. Default 10s
	// (local 1s).
	StableAfter time.Duration

	// Failure detection (memberlist's timers). A dead node is noticed
	// after roughly ProbeInterval + SuspicionMult*log(N)*ProbeInterval.
	// Defaults: memberlist's LAN values (1s, 500ms, 4, 200ms, 30s);
	// local: 200ms, 200ms, 4, 50ms, 2s (a dead node is noticed in about a
	// second, and a node stalled for half a second, as a loaded machine
	// stalls them, is not yet suspected of a pause: see pauseLimit).
	ProbeInterval    time.Duration
	ProbeTimeout     time.Duration
	SuspicionMult    int
	GossipInterval   time.Duration
	PushPullInterval time.Duration

	// MaxSessions and MaxBytes bound what one node holds: its sessions and
	// the copies it keeps for other nodes, counted as the memory store
	// counts them (internal/engine). At a bound, the primary of a new
	// session first evicts sessions of its own partitions that may go
	// (expired, or never used again after the request that created them),
	// burying each under a tombstone that replicates like a delete and
	// expires after two anti-entropy intervals; when none may go, the new
	// session is refused with session.ErrFull (503). A replica refuses new
	// copies only beyond a quarter over the bounds, when the primaries'
	// evictions have not kept up. Returning users keep their sessions; a
	// flood of new ones displaces itself. MaxSessions default 0: no bound
	// on the count; MaxBytes default 256 MiB, negative: none.
	MaxSessions int
	MaxBytes    int64

	// MaxRecordSize is the largest encoded session a node stores; a save
	// that would exceed it fails with session.ErrTooLarge. Default 1 MiB.
	MaxRecordSize int

	// Now is the clock for session expiry, for how long the member set
	// has been stable (StableAfter) and for the rate limit of gossip's log.
	// Default time.Now.
	Now func() time.Time

	// Logger receives membership changes and replication failures.
	// Default slog.Default().
	Logger *slog.Logger

	// WrapCaller and WrapTransport, when set, wrap the node's peer client
	// and memberlist transport. They exist for fault injection (package
	// clustertest cuts, drops and delays traffic with them). Default nil.
	WrapCaller    func(Caller) Caller
	WrapTransport func(memberlist.Transport) memberlist.Transport
}

// DefaultConfig returns the defaults for nodes on a LAN.
func DefaultConfig() Config {
	name, _ := os.Hostname()
	if name == "" {
		name = "node"
	}
	return Config{
		Name:                name,
		Bind:                "0.0.0.0:7946",
		Replicas:            2,
		Partitions:          4096,
		RejoinInterval:      30 * time.Second,
		BootstrapTimeout:    30 * time.Second,
		CallTimeout:         2 * time.Second,
		LeaveTimeout:        5 * time.Second,
		DrainTimeout:        30 * time.Second,
		TransferTimeout:     time.Minute,
		PullPartitions:      1024,
		AntiEntropyInterval: 10 * time.Second,
		ReadLease:           500 * time.Millisecond,
		StableAfter:         10 * time.Second,
		ProbeInterval:       time.Second,
		ProbeTimeout:        500 * time.Millisecond,
		SuspicionMult:       4,
		GossipInterval:      200 * time.Millisecond,
		PushPullInterval:    30 * time.Second,
		MaxRecordSize:       1 << 20,
		MaxBytes:            256 << 20,
		Now:                 time.Now,
		Logger:              slog.Default(),
	}
}

// DefaultLocalConfig returns defaults for nodes on one machine: loopback
// addresses on free ports and tight timers, so a dead node is noticed in
// about a second. Tests and the demo use it.
func DefaultLocalConfig() Config {
	c := DefaultConfig()
	c.Bind = "127.0.0.1:0"
	c.RejoinInterval = time.Second
	c.BootstrapTimeout = 3 * time.Second
	c.CallTimeout = 500 * time.Millisecond
	c.LeaveTimeout = 500 * time.Millisecond
	c.DrainTimeout = 10 * time.Second
	c.TransferTimeout = 30 * time.Second
	c.AntiEntropyInterval = 5 * time.Second
	c.ReadLease = 200 * time.Millisecond
	c.StableAfter = time.Second
	c.ProbeInterval = 200 * time.Millisecond
	c.ProbeTimeout = 200 * time.Millisecond
	c.SuspicionMult = 4
	c.GossipInterval = 50 * time.Millisecond
	c.PushPullInterval = 2 * time.Second
	return c
}

// withDefaults fills zero fields from DefaultConfig.
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	setDefault(&c.Name, d.Name)
	setDefault(&c.Bind, d.Bind)
	setDefault(&c.Replicas, d.Replicas)
	setDefault(&c.Partitions, d.Partitions)
	setDefault(&c.RejoinInterval, d.RejoinInterval)
	setDefault(&c.BootstrapTimeout, d.BootstrapTimeout)
	setDefault(&c.CallTimeout, d.CallTimeout)
	setDefault(&c.LeaveTimeout, d.LeaveTimeout)
	setDefault(&c.DrainTimeout, d.DrainTimeout)
	setDefault(&c.TransferTimeout, d.TransferTimeout)
	setDefault(&c.PullPartitions, d.PullPartitions)
	setDefault(&c.AntiEntropyInterval, d.AntiEntropyInterval)
	setDefault(&c.ReadLease, d.ReadLease)
	setDefault(&c.StableAfter, d.StableAfter)
	setDefault(&c.ProbeInterval, d.ProbeInterval)
	setDefault(&c.ProbeTimeout, d.ProbeTimeout)
	setDefault(&c.SuspicionMult, d.SuspicionMult)
	setDefault(&c.GossipInterval, d.GossipInterval)
	setDefault(&c.PushPullInterval, d.PushPullInterval)
	setDefault(&c.MaxRecordSize, d.MaxRecordSize)
	setDefault(&c.MaxBytes, d.MaxBytes)
	if c.Now == nil {
		c.Now = d.Now
	}
	if c.Logger == nil {
		c.Logger = d.Logger
	}
	if c.Certs != nil && c.TLS == nil {
		c.TLS = c.Certs.config
	}
	return c
}

func setDefault[T comparable](v *T, def T) {
	var zero T
	if *v == zero {
		*v = def
	}
}

// maxNamePrefix is the longest Name: the node name, Name + "-" + a boot ID
// of 12 hex digits, must fit peer.MaxName.
const maxNamePrefix = peer.MaxName - 1 - bootIDLen

// Validate reports every field of c that is out of range, each as a
// *FieldError naming it and what is allowed, joined (errors.Join): errors.As
// finds the first, and a caller that wants them all unwraps the join.
// Zero values are allowed: they mean defaults. A node needs a Secret or
// Secrets (ErrNoSecret), unless Insecure and, with the defaults applied,
// it listens on and advertises loopback addresses only: New refuses the
// same Configs Validate does.
func (c *Config) Validate() error {
	errs := c.validateAddrs()
	errs = append(errs, c.validateSecrets()...)
	errs = append(errs, c.validateSnapshot()...)
	for _, r := range c.rules() {
		if r.broken {
			errs = append(errs, invalid(r.field, r.rule))
		}
	}
	for _, d := range c.durations() {
		if d.value < 0 {
			errs = append(errs, invalid(d.name, "must be positive, or 0 for the default"))
		}
	}
	d := c.withDefaults() // a zero Bind means 0.0.0.0, which is not loopback
	if err := d.requireSecret(); err != nil {
		errs = append(errs, err)
	}
	errs = append(errs, d.validateTLS()...)
	if d.CallTimeout > 0 && d.ReadLease > d.CallTimeout/2 {
		errs = append(errs, invalid("ReadLease", fmt.Sprintf("must be at most half of CallTimeout (%v): a write waits out a lease that a backup did not give up, got %v", d.CallTimeout, d.ReadLease)))
	}
	return errors.Join(errs...)
}

// rule is one range check of Validate: the field is out of range when
// broken, and rule says what is allowed.
type rule struct {
	field  string
	broken bool
	rule   string
}

func (c *Config) rules() []rule {
	return []rule{
		{"Name", len(c.Name) > maxNamePrefix, fmt.Sprintf("must be at most %d bytes (the node name, with its boot ID, travels in the peer hello), got %d", maxNamePrefix, len(c.Name))},
		{"Replicas", c.Replicas < 0 || c.Replicas > 7, "must be 1 to 7, or 0 for the default of 2"},
		{"Partitions", c.Partitions < 0 || c.Partitions > 1<<16, "must be 1 to 65536, or 0 for the default of 4096"},
		{"MaxSessions", c.MaxSessions < 0, "must be positive, or 0 for no bound on the count"},
		{"MaxBytes", c.MaxBytes > 0 && c.MaxBytes < int64(max(c.MaxRecordSize, 1<<20)), "must be at least MaxRecordSize (1 MiB by default), 0 for the default of 256 MiB, or negative for no bound"},
		{"MaxRecordSize", c.MaxRecordSize < 0, "must be positive, or 0 for the default of 1 MiB"},
		{"SuspicionMult", c.SuspicionMult < 0, "must be positive, or 0 for the default"},
		{"PullPartitions", c.PullPartitions < 0, "must be positive, or 0 for the default of 1024"},
	}
}

type namedDuration struct {
	name  string
	value time.Duration
}

func (c *Config) durations() []namedDuration {
	return []namedDuration{
		{"RejoinInterval", c.RejoinInterval}, {"BootstrapTimeout", c.BootstrapTimeout}, {"CallTimeout", c.CallTimeout},
		{"LeaveTimeout", c.LeaveTimeout}, {"ProbeInterval", c.ProbeInterval},
		{"ProbeTimeout", c.ProbeTimeout}, {"GossipInterval", c.GossipInterval},
		{"PushPullInterval", c.PushPullInterval}, {"DrainTimeout", c.DrainTimeout},
		{"TransferTimeout", c.TransferTimeout}, {"AntiEntropyInterval", c.AntiEntropyInterval},
		{"StableAfter", c.StableAfter},
	}
}

func (c *Config) validateAddrs() []error {
	var errs []error
	if c.Bind != "" {
		if _, _, err := splitIPPort(c.Bind); err != nil {
			errs = append(errs, invalid("Bind", fmt.Sprintf("must be ip:port: %v", err)))
		}
	}
	if c.PeerBind != "" {
		if _, _, err := splitIPPort(c.PeerBind); err != nil {
			errs = append(errs, invalid("PeerBind", fmt.Sprintf("must be ip:port: %v", err)))
		}
	}
	for i, seed := range c.Join {
		if !validSeed(seed) {
			errs = append(errs, invalid(fmt.Sprintf("Join[%d]", i), fmt.Sprintf("must be host or host:port, got %q", seed)))
		}
	}
	return errs
}

// validateSnapshot checks that Snapshot, when set, names a file in a
// directory that exists, so that a typo fails at start, not at the drain
// that would have written it.
func (c *Config) validateSnapshot() []error {
	if c.Snapshot == "" {
		return nil
	}
	dir := filepath.Dir(c.Snapshot)
	switch fi, err := os.Stat(dir); {
	case err != nil:
		return []error{invalid("Snapshot", fmt.Sprintf("must be a file in a directory that exists: %v", err))}
	case !fi.IsDir():
		return []error{invalid("Snapshot", fmt.Sprintf("must be a file in a directory: %q is not a directory", dir))}
	}
	if fi, err := os.Stat(c.Snapshot); err == nil && fi.IsDir() {
		return []error{invalid("Snapshot", fmt.Sprintf("must be a file: %q is a directory", c.Snapshot))}
	}
	return nil
}

// validSeed reports whether seed can be a "host[:port]" to join: not empty,
// and without spaces, '/' or ',' (a URL or a list written as one entry).
func validSeed(seed string) bool {
	return seed != "" && !strings.ContainsAny(seed, " /,")
}

// requireSecret refuses a node without a secret, unless it is Insecure
// and reachable on loopback only. c must have its defaults applied (a zero
// Bind means 0.0.0.0, which is not loopback); Validate applies them.
func (c *Config) requireSecret() error {
	if len(c.secrets()) > 0 {
		return nil
	}
	for _, a := range []string{c.Bind, c.PeerBind, c.Advertise} {
		if a != "" && !netaddr.IsLoopback(a) {
			return &FieldError{Field: "Secret", err: ErrNoSecret, Rule: fmt.Sprintf(
				"is required: this node listens on or advertises %q, which is not a loopback address, "+
					"so anyone on the network could join and read the sessions; set at least %d random bytes", a, minSecret)}
		}
	}
	if !c.Insecure {
		return &FieldError{Field: "Secret", err: ErrNoSecret, Rule: fmt.Sprintf(
			"is required: without one, any local process can join, read and forge every session; "+
				"set at least %d random bytes (only a test on one machine may go without, with the insecure option)", minSecret)}
	}
	return nil
}

// validateTLS checks that TLS comes from one field, and that this node's
// certificate names its member. c must have its defaults applied (Name).
func (c *Config) validateTLS() []error {
	switch {
	case c.Certs != nil && c.TLS != nil && c.TLS != c.Certs.config:
		return []error{invalid("TLS", "is set together with Certs; set one of the two")}
	case c.Certs == nil:
		return nil
	}
	if err := c.checkOwnCert(c.Certs.Leaf()); err != nil {
		return []error{invalid("Certs", "is wrong: "+err.Error())}
	}
	return nil
}

func invalid(field, rule string) error {
	return &FieldError{Field: field, Rule: rule}
}

// splitIPPort parses "ip:port" where ip must be a literal address.
func splitIPPort(s string) (net.IP, int, error) {
	host, p, err := net.SplitHostPort(s)
	if err != nil {
		return nil, 0, err
	}
	ip := net.ParseIP(host)
	if ip == nil {
		return nil, 0, fmt.Errorf("%q is not an IP address", host)
	}
	port, err := strconv.Atoi(p)
	if err != nil || port < 0 || port > 65535 {
		return nil, 0, fmt.Errorf("bad port %q", p)
	}
	return ip, port, nil
}
