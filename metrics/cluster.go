package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/sessionmesh/sessionmesh/cluster"
)

// RegisterCluster registers on reg a collector of node's Stats, read at
// scrape time (sessionmesh_cluster_*): what this node knows without asking
// the others, so that every node is scraped for its own numbers and a
// scrape costs no peer call.
func RegisterCluster(reg prometheus.Registerer, node *cluster.Store) error {
	c := &statsCollector[cluster.Stats]{read: node.Stats}
	const p = "sessionmesh_cluster_"
	type st = cluster.Stats
	c.gauge(p+"members", "Members in this node's partition table.", func(s *st) float64 { return float64(s.Members) })
	c.gauge(p+"epoch", "Epoch of this node's partition table; it grows at every membership change.", func(s *st) float64 { return float64(s.Epoch) })
	c.gauge(p+"ready", "1 while this node serves: it holds every partition it owns.", func(s *st) float64 { return bit(s.Ready) })
	c.gauge(p+"joining", "1 while this node pulls its partitions and owns none yet.", func(s *st) float64 { return bit(s.Joining) })
	c.gauge(p+"draining", "1 while this node hands its sessions off before it leaves.", func(s *st) float64 { return bit(s.Draining) })
	c.gauge(p+"quorum", "1 while this node sees a majority of the last stable membership; 0: it refuses writes.", func(s *st) float64 { return bit(s.Quorum) })
	c.gauge(p+"partitions_primary", "Partitions this node is primary of.", func(s *st) float64 { return float64(s.Primary) })
	c.gauge(p+"partitions_backup", "Partitions this node is a backup of.", func(s *st) float64 { return float64(s.Backup) })
	c.gauge(p+"sessions", "Live sessions this node holds (copies included), as its last full scan (each anti-entropy round) counted them.", func(s *st) float64 { return float64(s.Sessions) })
	c.gauge(p+"tombstones", "Deleted sessions this node remembers so that no replica revives them, as its last full scan counted them.", func(s *st) float64 { return float64(s.Tombstones) })
	c.gauge(p+"bytes", "Memory this node's sessions hold.", func(s *st) float64 { return float64(s.Bytes) })
	c.gauge(p+"hinted_copies", "Copies this node keeps for an owner that did not answer, to give back.", func(s *st) float64 { return float64(s.Hinted) })
	c.gauge(p+"under_replicated", "Copies this node is short of (partitions it owns but still pulls, missing copies of those it is primary of); summed over the nodes, 0 means every session has N copies.", func(s *st) float64 { return float64(s.UnderReplicated) })
	c.gauge(p+"syncing_partitions", "Partitions this node owns but still pulls.", func(s *st) float64 { return float64(s.Syncing) })
	c.counter(p+"conflicts", "Conflicting copies this node's repairs resolved by version.", func(s *st) uint64 { return s.Conflicts })
	c.counter(p+"evictions", "Spare sessions this node evicted at its bounds.", func(s *st) uint64 { return s.Evictions })
	c.counter(p+"refusals", "New sessions this node refused at its bounds.", func(s *st) uint64 { return s.Refused })
	c.counter(p+"expirations", "Expired sessions and tombstones this node removed.", func(s *st) uint64 { return s.Expired })
	c.counter(p+"pulled_partitions", "Partitions this node pulled (after a join, a crash or a heal) and then held.", func(s *st) uint64 { return s.PulledPartitions })
	c.counter(p+"pulled_sessions", "Sessions streamed to this node by pulls, those of anti-entropy repairs included.", func(s *st) uint64 { return s.PulledSessions })
	c.counter(p+"handed_off_sessions", "Sessions this node handed to their new owners and dropped (drain, anti-entropy).", func(s *st) uint64 { return s.HandedOff })
	c.counter(p+"kept_copies", "Saves this node sent as a backup of the session and whose copy it stored from the primary's answer, instead of the primary replicating it.", func(s *st) uint64 { return s.KeptCopies })
	c.counter(p+"repairs", "Partitions anti-entropy found different from a replica and exchanged.", func(s *st) uint64 { return s.Repairs })
	c.counter(p+"lease_reads", "Loads this node served as a backup from its own copy under a read lease, without asking the primary.", func(s *st) uint64 { return s.LeaseReads })
	c.counter(p+"lease_revocations", "Read leases this node, as a primary, ended before acknowledging a write the backup holding it lacked.", func(s *st) uint64 { return s.LeaseRevocations })
	c.metric(p+"peer_errors_total", "Failed peer calls by kind (connection, timeout, auth, protocol, other); a peer's error answer is not one.", []string{"kind"},
		func(d *prometheus.Desc, ch chan<- prometheus.Metric, s *st) {
			for i, n := range s.PeerErrors {
				ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(n), cluster.PeerErrorKinds[i])
			}
		})
	c.metric(p+"replication_seconds", "Time this node's writes took until N copies held them on the other owners.", nil,
		func(d *prometheus.Desc, ch chan<- prometheus.Metric, s *st) { ch <- histogram(d, &s.Replication) })
	return register(reg, "cluster", c)
}

// histogram turns a cluster.Latency into a Prometheus histogram.
func histogram(d *prometheus.Desc, l *cluster.Latency) prometheus.Metric {
	buckets := make(map[float64]uint64, len(l.Bounds))
	var cum uint64
	for i, b := range l.Bounds {
		cum += l.Counts[i]
		buckets[b.Seconds()] = cum
	}
	return prometheus.MustNewConstHistogram(d, l.Count, l.Sum.Seconds(), buckets)
}

func bit(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
