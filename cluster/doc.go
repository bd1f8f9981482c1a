// Package cluster turns the in-process memory store into one session store
// shared by many workers: every worker is a node, any node serves any
// session, and every acknowledged write exists on N nodes, so a worker can
// crash without users losing their sessions.
//
// # Model
//
// Membership is hashicorp/memberlist gossip, encrypted and authenticated
// with a key derived from the cluster secret. A node's name is Config.Name
// plus a random boot ID, so a restarted worker is a new member. Its gossip
// metadata carries the address of its peer transport (package peer:
// persistent, pipelined, authenticated TCP) and a draining flag. Seeds may
// be DNS names and are re-joined periodically, so a partition that outlived
// the dead-node timeout still heals.
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
// is this node). The primary applies a patch under the engine's per-session
// lock (so concurrent patches of different keys both survive), bumps the
// version, sends the resulting record to the backups in parallel and
// acknowledges once N copies hold it. A backup that does not answer is
// replaced by the next node in HRW order, which keeps a hinted copy and
// hands it to the owner when it answers again. With fewer than N members,
// all of them must hold the copy.
//
// A primary that does not answer (refused, reset, CallTimeout) is skipped:
// the next replica serves as acting primary. A node whose table names
// another primary answers with a redirect, which the sender follows once;
// tables that disagree during a membership change cost one hop, never a
// loop. A primary that lacks a session (it just became primary) asks the
// other replicas for it before answering. Concurrent remote loads of one
// session from one node share one call (groupcache's singleflight).
//
// Delete and Renew leave a tombstone (a record without a Created time,
// with the next version and the buried record's deadline) replicated like
// a write, so no stale copy can bring a destroyed session back; tombstones
// expire with the record they bury. Renew moves a session to a new ID in
// another partition in a fixed order, described at Store.renew: the new ID
// is durable before the old one stops working, and a patch racing with the
// renew either reaches the new session or fails with session.ErrNotFound.
//
// Joins that move partitions, re-replication after a crash, draining and
// anti-entropy belong to the cluster lifecycle (issue 5) and build on the
// Table, the tombstones, the hints and the opFetch/opPut operations here.
package cluster
