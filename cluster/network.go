package cluster

import (
	"fmt"
	"log"
	"net"
	"strconv"

	"github.com/hashicorp/memberlist"
)

// advertise is the gossip address other nodes reach this node on.
type advertise struct {
	ip   net.IP
	port int
}

// peerBind returns the peer listen address: PeerBind, or Bind's IP with
// Bind's port + 1 (0 stays 0).
func peerBind(cfg *Config) string {
	if cfg.PeerBind != "" {
		return cfg.PeerBind
	}
	ip, port, _ := splitIPPort(cfg.Bind) // validated
	if port != 0 {
		port++
	}
	return net.JoinHostPort(ip.String(), strconv.Itoa(port))
}

// newGossipTransport binds memberlist's UDP+TCP transport. With port 0 the
// kernel picks the TCP port and UDP may find it taken, so that case is
// retried a few times, as memberlist itself does.
func newGossipTransport(cfg *Config, logger *log.Logger) (*memberlist.NetTransport, error) {
	ip, port, _ := splitIPPort(cfg.Bind)
	tries := 1
	if port == 0 {
		tries = 10
	}
	var err error
	for range tries {
		var t *memberlist.NetTransport
		t, err = memberlist.NewNetTransport(&memberlist.NetTransportConfig{
			BindAddrs: []string{ip.String()}, BindPort: port, Logger: logger,
		})
		if err == nil {
			return t, nil
		}
	}
	return nil, fmt.Errorf("cluster: bind gossip to %s: %w", cfg.Bind, err)
}

// resolveAdvertise picks the gossip address to advertise: Config.Advertise
// (a host name is resolved now), else what the transport reports for its
// bind address.
func resolveAdvertise(cfg *Config, tr *memberlist.NetTransport) (advertise, error) {
	port := tr.GetAutoBindPort()
	host := ""
	if cfg.Advertise != "" {
		host = cfg.Advertise
		if h, p, err := net.SplitHostPort(cfg.Advertise); err == nil {
			host = h
			if port, err = strconv.Atoi(p); err != nil {
				return advertise{}, invalid("Advertise", fmt.Sprintf("port %q is not a number", p))
			}
		}
		ip, err := lookupIP(host)
		if err != nil {
			return advertise{}, invalid("Advertise", fmt.Sprintf("%q does not resolve: %v", cfg.Advertise, err))
		}
		host = ip.String()
	} else if bindIP, _, err := splitIPPort(cfg.Bind); err == nil && bindIP.IsUnspecified() {
		host = towardSeeds(cfg.Join, port)
	}
	ip, p, err := tr.FinalAdvertiseAddr(host, port)
	if err != nil {
		return advertise{}, fmt.Errorf("cluster: pick the address to advertise (set Advertise): %w", err)
	}
	return advertise{ip: ip, port: p}, nil
}

// towardSeeds returns this host's address on the way to the first seed
// that resolves (the source address the kernel would use; nothing is
// sent), "" when none does. A node bound to every interface advertises
// it, so that it is reached on the network its seeds are on: in compose,
// a network of the cluster's own, which can be cut without cutting HTTP.
// port is the seeds' default port.
func towardSeeds(seeds []string, port int) string {
	for _, seed := range seeds {
		host, p := splitSeed(seed, port)
		ip, err := lookupIP(host)
		if err != nil {
			continue
		}
		conn, err := net.Dial("udp", net.JoinHostPort(ip.String(), p))
		if err != nil {
			continue
		}
		local := conn.LocalAddr().(*net.UDPAddr).IP
		conn.Close()
		if !local.IsUnspecified() {
			return local.String()
		}
	}
	return ""
}

// splitSeed splits a seed, "host[:port]", into its host and its port,
// port when it names none.
func splitSeed(seed string, port int) (host, p string) {
	if h, hp, err := net.SplitHostPort(seed); err == nil {
		return h, hp
	}
	return seed, strconv.Itoa(port)
}

// lookupIP resolves host, preferring IPv4.
func lookupIP(host string) (net.IP, error) {
	if ip := net.ParseIP(host); ip != nil {
		return ip, nil
	}
	ips, err := net.LookupIP(host)
	if err != nil {
		return nil, err
	}
	for _, ip := range ips {
		if ip.To4() != nil {
			return ip, nil
		}
	}
	if len(ips) == 0 {
		return nil, fmt.Errorf("no address for %q", host)
	}
	return ips[0], nil
}

// peerAdvertise is the peer address other nodes dial: the advertised
// gossip IP and the peer listener's port.
func peerAdvertise(adv advertise, ln net.Listener) string {
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return net.JoinHostPort(adv.ip.String(), port)
}

// checkAdvertised refuses a node without a secret whose advertised address
// is reachable from other machines (Bind 0.0.0.0 advertises a private IP).
func checkAdvertised(cfg *Config, adv advertise) error {
	if len(cfg.secrets()) == 0 && !adv.ip.IsLoopback() {
		return fmt.Errorf("%w (advertised %s)", ErrNoSecret, adv.ip)
	}
	return nil
}
