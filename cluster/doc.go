// Package cluster turns the in-process memory store into one session store
// shared by many workers: every worker is a node, any node serves any
// session, and every acknowledged write exists on N nodes, so a worker can
// crash without users losing their sessions.
//
// # Model
//
// Membership is hashicorp/memberlist gossip, encrypted and authenticated
// with a key derived from the cluster secret (a list of secrets while one
// rotates: see Key rotation). A node's name is Config.Name
// plus a random boot ID, so a restarted worker is a new member. Its gossip
// metadata carries the address of its peer transport (package peer:
// persistent, pipelined TCP, authenticated and encrypted with AES-256-GCM
// under keys derived from the secret, without forward secrecy unless
// Config.TLS) and its joining and draining flags. Seeds may be DNS names
// and are re-joined periodically, so a partition that outlived the
// dead-node timeout still heals.
//
// The session space is split into a fixed number of partitions
// (hash(ID) mod Partitions). Each partition's preference list is its top N
// members by rendezvous hashing over the member list (Table): index 0 is the
// primary, the rest are backups. Every node computes the same table from
// the same members; removing a member only changes the partitions that had
// it, and its successor is a node that already holds the data.
//
// # Requests
//
// Load, Save and Delete go to the session's primary (in-process when that
// is this node), except a Load at a backup of the session's partition that
// holds a read lease from the primary: it reads its own copy. While such
// a lease is live the primary acknowledges no write of the partition, and
// stores no copy of it from elsewhere, that the backup did not store too:
// it ends the lease first (asking the backup, or waiting it out, at most
// Config.ReadLease and an eighth), and the backup gets a lease for that
// partition again only after pulling it anew. Leases are granted under a
// table both sides share, for partitions no joining node is pulling, and
// a node writing on failover waits out any lease of a backup it could not
// reach (leases.go). So a backup's read is as fresh as the primary's: with
// round-robin balancing, two loads in three are served where they land. A
// backup asks for leases only while loads reach it (and for 10 ReadLeases
// after the last): behind a sticky balancer, where every load goes to the
// session's primary, and in an idle cluster, none is asked or granted.
// The primary applies a patch under the engine's per-session lock (so
// concurrent patches of different keys both survive), bumps the
// version, sends the resulting record to the backups in parallel and
// acknowledges once N copies hold it. A backup that does not answer is
// replaced by the next node in HRW order, a stand-in, which keeps a
// hinted copy and gives it back to the owner when it answers again. The
// stand-in tries that at once, before it answers the put (within a
// quarter of CallTimeout): when only the writer's own route to the owner
// failed (a firewall rule or a route gone one way), the owner is alive
// and serving others, and once the write is acknowledged it must not
// serve the session without it. With fewer than N members, all of them
// must hold the copy.
//
// A save sent by a backup of its session's partition (in the sender's
// table; a patch of an existing session) costs one round trip, not two:
// the sender asks to keep its copy itself, and a primary whose table also
// has the sender among the owners leaves it out of the replication,
// counts it as one of the N copies and answers with the record it wrote,
// which the sender stores as it would a replication (the version rule;
// refused while it drains or after Close) before it acknowledges. No
// acknowledged write is lost: the sender acknowledges only once its copy
// is stored and the primary had the other N-1; when the sender cannot
// store it, or the answer does not arrive, the save fails, and like any
// failed write it may or may not survive on the primary. A newer version
// that reached the sender first (another node's save of the session,
// replicated by the same primary while the answer was on its way) wins
// over the kept copy and holds its write, since a primary applies the
// patches of a session in version order under its lock; a replicated copy
// that loses the same way counts as held. A primary whose table does not
// have the sender among the owners (tables differ during a membership
// change) replicates to its owners as for any save and answers nothing
// to keep.
//
// A primary that does not answer (refused, reset, CallTimeout) is skipped:
// the next replica serves as acting primary. A write whose sender's
// connection to the primary failed (refused or reset, not a timeout) is
// first relayed by another member (flagRelay), which sends it on to the
// primary: a firewall rule or a route that fails only one node's calls
// leaves the primary alive and serving the others, and an acting primary
// beside it would write the same sessions with the same versions, so one
// side's writes would be lost (TestOneWayBlockToThePrimaryLosesNoConcurrentWrite
// lost every write of the cut-off node). Only when the relay cannot reach
// the primary either does the sender fail over; a crash costs one extra
// round trip per write until the members drop the dead node. A route that
// no replica served fails with ErrUnavailable naming them. A node whose table names
// another primary answers with a redirect, which the sender follows once;
// tables that disagree during a membership change cost one hop, never a
// loop. A primary that holds its partition (see Lifecycle) is the
// authority: a session it lacks does not exist, at no extra cost. Only a
// node that is still pulling the partition, or one serving on failover,
// asks the other replicas too. Concurrent remote loads of one session
// from one node share one call (groupcache's singleflight).
//
// Every routed request carries its ctx's deadline, as a time and as what
// was left of it at sending; the node that serves it keeps the earlier of
// the two and applies no write after it (checked under the session's
// lock). A request stuck on a node that froze or lost its network may
// wake after its client gave up and retried elsewhere; applied then, its
// patch would overwrite what the retry wrote (last writer wins per key).
// The time alone would trust the clocks; the budget alone restarts in a
// node that was frozen with the request in its socket. So bound requests
// (httpmw.WithTimeout) below the time after which clients or the balancer
// retry: that makes a retry safe. A node whose clock is ahead of the
// sender's refuses writes early by the difference; one whose clock is
// behind can apply a write late by at most the difference, and only
// after it was paused (otherwise the budget holds).
//
// Delete and Renew leave a tombstone (a record without a Created time,
// with the next version and the buried record's deadline) replicated like
// a write, so no stale copy can bring a destroyed session back; tombstones
// expire with the record they bury. Renew moves a session to a new ID in
// another partition in a fixed order, described at Store.renew: the new ID
// is durable before the old one stops working, and a patch racing with the
// renew either reaches the new session or fails with session.ErrNotFound.
//
// Store is a session.EventSource: a session's expiry is reported by its
// primary only, once, though every replica expires its copy, and an
// eviction by the primary that evicts (events.go).
//
// Store is a session.PrincipalIndex: every node indexes the copies it
// holds by principal, and a listing asks every member (opUser), then
// reads each session found through the routed Load. It is complete when
// the members that answered hold every partition between them, so one
// member down costs nothing while the other replicas answer; otherwise it
// fails with ErrUnavailable naming the members that did not answer
// (principals.go). It is a session.Counter the same way: every member
// counts the live sessions of the partitions it holds (opTally), and each
// partition is counted once, from its primary when it answered (count.go),
// and a session.Iterator: a walk asks every member for the IDs it holds
// in a slice of the partitions at a time (opKeys) and reads each session
// through the routed Load (iterate.go).
//
// # Lifecycle
//
// Start-up and join. New joins the seeds and returns; the node is a
// member at once (gossiping "joining") and routes requests to the
// owners, but owns no partition yet. It computes the partitions it will
// own once ready (the table with itself counted) and pulls them from the
// nodes that hold them now: each source streams its sessions of up to
// PullPartitions partitions, and registers the puller first, so every
// write it applies to those partitions from then on is copied to the
// puller too. Once it holds everything it will own, the node marks
// itself ready in its own table, in gossip, and directly at every member
// (so tables flip within a round trip), and Ready turns true. The old
// owners then hand their copies of partitions they no longer own to the
// owners and drop them (every anti-entropy round). The first node of a
// cluster has nothing to pull and is ready at once.
//
// Crash. The survivors' tables drop the dead node; every partition that
// had it gets the next node in HRW order as a new owner, which pulls the
// partition from the others (PullPartitions at a time: the throttle).
// UnderReplicated (and Status.UnderReplicated, summed over the members)
// counts the copies missing meanwhile; 0 means every partition has N
// copies again. A node serves a partition as an authority only once it
// holds it; an owner still pulling, or a node serving on failover, reads
// the newest copy among all the partition's sources instead.
//
// Shutdown. Drain (Close calls it with DrainTimeout) turns Ready false,
// marks the node draining (own table, gossip, every member directly), so
// the backups of its partitions become primaries and requests are
// redirected, waits for the requests in flight, sends every session it
// holds to the new owners and waits for their acknowledgement, then
// leaves the gossip and stops. Shutdown stops without any of it, as a
// crash would.
//
// Snapshots: stopping every node. With Config.Snapshot, a node that
// drains writes what it still holds after its hand-off (what no other
// node took: everything when it is the last node, a share each when the
// last ones stop at once; nothing, and an older file removed, when the
// others took it all), sealed under a key derived from the first secret,
// atomically, mode 0600. A node that starts loads the file before it
// listens, so a node joining with it pulls the copies; it drops expired
// sessions, merges the rest by version, sends them to the owners of
// their partitions before it reports ready (owners already serving would
// otherwise say they do not exist), and removes the file once they all
// got there (until then it may be their only other copy).
// The rule against resurrection is the version rule, nothing more: a
// snapshot is loaded once, whenever its node starts, also into a cluster
// that kept serving without it; a session deleted meanwhile has a
// tombstone with a higher version that lives until the deleted session's
// deadline, which is no earlier than the snapshot copy's, so the copy
// loses while the tombstone lives and has expired (and is dropped on
// load) once it does not. The exceptions: a session whose deadline was
// shortened before the delete, and an evicted one (its tombstone expires
// early; it was spare). Loading only when starting a new cluster would
// not do: workers restarted together join each other, and none of them
// starts one. A crash of the last node writes no snapshot.
//
// Pause and isolation. A node that finds a gap in its heartbeat longer
// than failure detection (SIGSTOP, a frozen VM), or that no other member
// answered for that long (a network split), is not ready and holds
// requests until it has asked the members whether they lost sight of it
// meanwhile; if one did, it waits until every member counts it again
// with the same table, then pulls its partitions again before it serves
// them as an authority. A member memberlist declares dead stays in the
// table for a short grace in case it refutes (a node returning from a
// split gossips the deaths its own timers reached while it was away), and
// after it as long as it answers a peer call within CallTimeout: a node
// slowed down by a busy machine, or whose gossip alone is lost, is alive,
// and dropping it would make two nodes primary of its partitions. Such a
// member is asked again every grace, and the rejoin loop pushes the two
// memberlists' states to each other until it refutes the verdict; one
// that stops answering is dropped then. So a dead node leaves the tables
// a grace after memberlist's verdict when its port refuses (a crash), and
// CallTimeout later when it is silent (a frozen or unreachable host).
//
// Anti-entropy and split brain. Every AntiEntropyInterval a primary
// compares per-partition digests with the other owners and the two
// exchange the partitions that differ; after a split heals, the owners of
// every partition shared with a member that reappeared pull it again.
// Copies are resolved by version (equal versions by the later write), so
// replicas converge; conflicting copies (both sides wrote) are counted in
// Conflicts and logged. By default a node that sees no majority of the
// last stable membership is not ready and refuses reads and writes with
// ErrNoQuorum, so the minority side of a split serves nothing and no
// acknowledged write is lost; Config.AvailableFirst lets both sides serve
// instead, and loses the writes of one side to the sessions both wrote.
//
// # Key rotation
//
// A node holds a list of secrets (Config.Secrets; Secret is the list of
// one). From each, two keys are derived as from a single secret, one for
// gossip and one for peer traffic, so no key serves both. The first
// secret's gossip key is memberlist's primary key: it encrypts every
// packet this node sends, and the others are tried on packets received.
// The peer handshake accepts any shared secret: the server proves each
// of its keys, the client answers with the first of its own the server
// proved, and the connection is sealed with that one (package peer).
//
// Gossip is the stricter of the two: a node understands another only if
// it holds the secret the other sends with, its first. So a rotation
// moves every node through three steps, each finished on all of them
// before the next starts: [old new] (the new secret accepted
// everywhere), [new old] (sent by each node as it switches; everyone
// accepts both), [new] (the old one dropped). Two neighbouring steps
// always interoperate; [new old] next to [old] does not (the [old] node
// cannot open the other's gossip, and the two would declare each other
// dead).
//
// Store.SetSecrets applies a step to a running node: the gossip keyring
// gains the new keys, switches its primary, then drops the keys not
// listed; the peer server and client take the new list for the
// handshakes that follow. Established peer connections keep the key they
// agreed on until they close. The node logs "cluster: secrets changed"
// with SecretIDs, never a secret. Restarting the nodes one at a time with
// the step's Config does the same (cmd/demo re-reads its secret file on
// SIGHUP, so it needs no restart).
//
// # Transport security
//
// Without TLS the secret protects both channels: gossip is encrypted and
// authenticated by memberlist's keyring, and peer frames are sealed with
// AES-256-GCM under a key per connection and direction derived from the
// secret (package peer). No forward secrecy: a recording of the traffic
// opens to whoever later learns the secret; and any holder of the secret
// can claim any node name. Config.Certs (or Config.TLS) adds mutual TLS
// 1.3 around peer connections: forward secrecy, and a certificate per
// member from the operator's PKI. Each side checks that the other's
// certificate was signed by the CA and names, as a URI SAN MemberURI(Name),
// the member whose node name it gave in the peer hello (Name plus the boot
// ID), and refuses the connection otherwise (peer.Config.VerifyName). The
// secret stays required with TLS: gossip is not TLS, and the peer frames
// stay sealed inside it. Store.ReloadCerts reads the certificate files
// again: new connections use them, established ones keep what they
// agreed on.
//
// # Wiring it into a server
//
// stores.Open returns a session.Store; the lifecycle methods are found by
// type assertion:
//
//	type lifecycle interface {
//		Ready() bool                       // readiness: false while starting, draining, or in a minority
//		HandOff(ctx context.Context) error // draining: sessions to the new owners; still routes requests
//		Drain(ctx context.Context) error   // HandOff, then stop
//		Close() error                      // Drain bounded by Config.DrainTimeout
//	}
//
// Answer the readiness check (/readyz) with Ready, so a load balancer
// sends nothing before the node holds its partitions. On SIGTERM: fail
// readiness and give the balancer a moment to notice; HandOff, so every
// session the node held is on its new owners, while the HTTP server
// still answers (requests that still come are routed to the owners);
// stop the HTTP server (http.Server.Shutdown finishes the requests in
// flight); then Close the store. A rolling restart that does this node
// by node, waiting for Ready on the restarted node before the next,
// loses no session and fails no request. cmd/demo does exactly this.
package cluster
