package peer

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/sessionmesh/sessionmesh/session"
)

// Config configures a Server or a Client. Start from DefaultConfig; the zero
// value of every field means its default. Both ends of a connection must
// share a key (Secret, Secrets) and agree on TLS and MaxFrame. The Server
// and Client copy the Config: changing it afterwards has no effect (keys
// change with SetSecrets; TLS is not deep-copied, do not mutate it).
type Config struct {
	// Secret authenticates both ends (mutual HMAC-SHA256 challenge/response
	// at connect) and keys the encryption of every frame after the
	// handshake. Empty: no authentication and no encryption (the cluster
	// allows that only on loopback). When set it must be at least 16 bytes.
	// It is the shorthand of Secrets with one key; set one or the other.
	// Default empty.
	Secret []byte

	// Secrets is a key list, for changing keys while the cluster serves:
	// a connection is accepted when the two sides share any key of their
	// lists, and is sealed with the shared key that comes first in the
	// client's list (see the package doc). At most MaxSecrets keys, each
	// at least 16 bytes, none twice. Server.SetSecrets and
	// Client.SetSecrets replace the list at run time. Default empty.
	Secrets [][]byte

	// Name is this side's name, sent in the hello of every connection: a
	// Server's handlers find the client's in their ctx (FromContext). With
	// a Secret the name is covered by the handshake's proofs and keys, so
	// nobody without the secret can forge or change it; a holder of the
	// secret can still claim any name, unless TLS and VerifyName bind
	// names to certificates. At most MaxName bytes. Default empty.
	Name string

	// TLS, when set, wraps every connection in TLS as well (a Server needs
	// Certificates; a Client without ServerName verifies the dialled host).
	// Default nil: no TLS.
	TLS *tls.Config

	// VerifyName, when set with TLS, binds the other side's name to its
	// certificate: once the TLS and peer handshakes are done, on both
	// sides, it is given the name the other side sent in its hello and the
	// leaf certificate it presented (nil when it presented none), and an
	// error refuses the connection with ErrAuth (the Server logs it).
	// Default nil: the name is not checked against the certificate.
	VerifyName func(name string, cert *x509.Certificate) error

	// MaxFrame is the largest request or response body in bytes. A Call
	// with a larger body fails with ErrFrameTooLarge before sending; a
	// received frame announcing more closes that connection. Default 4 MiB,
	// at most 1 GiB.
	MaxFrame int

	// DialTimeout bounds establishing the TCP connection. Default 1s.
	DialTimeout time.Duration

	// HandshakeTimeout bounds the TLS and peer handshakes on both sides: a
	// client that has not authenticated by then is cut off. Default 2s.
	HandshakeTimeout time.Duration

	// WriteTimeout bounds each write to a connection; a peer that stops
	// reading for this long breaks the connection, failing its calls.
	// Default 5s.
	WriteTimeout time.Duration

	// ConnsPerPeer is how many connections a Client keeps to each address.
	// Calls are pipelined, so a few suffice; more spread the work of
	// sealing and reading over more goroutines. Default 2, at most 64.
	ConnsPerPeer int

	// MaxInflight is how many requests of one connection a Server runs at
	// once; further requests wait (the Server stops reading that connection
	// until a handler returns), bounding the memory one peer can pin.
	// Default 1024.
	MaxInflight int

	// MaxHandshakes is how many connections a Server lets run the
	// handshake at once; one more is closed as soon as it is accepted
	// (and logged, rate-limited). Until it authenticates a connection is
	// whoever reached the port, and holds a goroutine, some KiB and a file
	// descriptor for up to HandshakeTimeout: the cap bounds what a flood
	// of connections that never speak can take. A member's handshake takes
	// a round trip, so a legitimate burst (every member redialling at once)
	// needs few slots. Default 256.
	MaxHandshakes int

	// MaxHandshakesPerIP is how many of the MaxHandshakes one source IP may
	// hold at once, so that one flooding host cannot keep the members from
	// connecting. Authenticated connections do not count: many members may
	// share an address (a test cluster on loopback, hosts behind NAT), and
	// each keeps ConnsPerPeer. Default 32.
	MaxHandshakesPerIP int

	// Inline, on a Server, names the requests its Handler answers without
	// waiting on anything: no call to another node, no timer, no lock held
	// across a wait. The Server serves such a request on the goroutine
	// that read it when no other request is buffered behind it, and so
	// saves the hand-over to a handler goroutine (a wake-up, often of the
	// other core: most of a lone round trip's cost over a plain TCP echo,
	// BENCHMARKS.md). Any other request is handed over. A request it
	// wrongly names is still served, but holds up the requests behind it
	// on its connection while it waits. It is called on the reading
	// goroutine with the request's body, which it must not keep or change.
	// Default nil: every request is handed over.
	Inline func(op uint8, body []byte) bool

	// Dial opens a connection to addr for a Client; ctx carries the
	// DialTimeout. Tests use it to inject faults. Default: TCP with
	// keep-alive.
	Dial func(ctx context.Context, addr string) (net.Conn, error)

	// Logger receives what cannot reach a caller: rejected connections and
	// panicking handlers on a Server. Default slog.Default().
	Logger *slog.Logger

	live *secrets // the key list of the Server or Client that owns this copy
}

const (
	minSecret    = 16
	maxMaxFrame  = 1 << 30
	maxConns     = 64
	defaultFrame = 4 << 20
)

// DefaultConfig returns a Config with every default filled in.
func DefaultConfig() Config {
	var c Config
	c.setDefaults()
	return c
}

func (c *Config) setDefaults() {
	c.MaxFrame = orDefault(c.MaxFrame, defaultFrame)
	c.DialTimeout = orDefault(c.DialTimeout, time.Second)
	c.HandshakeTimeout = orDefault(c.HandshakeTimeout, 2*time.Second)
	c.WriteTimeout = orDefault(c.WriteTimeout, 5*time.Second)
	c.ConnsPerPeer = orDefault(c.ConnsPerPeer, 2)
	c.MaxInflight = orDefault(c.MaxInflight, 1024)
	c.MaxHandshakes = orDefault(c.MaxHandshakes, 256)
	c.MaxHandshakesPerIP = orDefault(c.MaxHandshakesPerIP, 32)
	if c.Dial == nil {
		c.Dial = dialTCP
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

func orDefault[T int | time.Duration](v, def T) T {
	if v == 0 {
		return def
	}
	return v
}

func dialTCP(ctx context.Context, addr string) (net.Conn, error) {
	var d net.Dialer
	return d.DialContext(ctx, "tcp", addr)
}

// Validate reports the first field of c that is out of range, naming the
// field and what is allowed. Zero values are allowed: they mean defaults.
func (c *Config) Validate() error {
	switch {
	case len(c.Secret) > 0 && len(c.Secret) < minSecret:
		return invalid("Secret", fmt.Sprintf("must be empty or at least %d bytes, got %d", minSecret, len(c.Secret)))
	case len(c.Secret) > 0 && len(c.Secrets) > 0:
		return invalid("Secret", "and Secrets are both set; set Secrets only (Secret is the shorthand of one key)")
	case checkSecrets(c.Secrets) != nil:
		return checkSecrets(c.Secrets)
	case len(c.Name) > MaxName:
		return invalid("Name", fmt.Sprintf("must be at most %d bytes, got %d", MaxName, len(c.Name)))
	case c.MaxFrame < 0 || c.MaxFrame > maxMaxFrame:
		return invalid("MaxFrame", "must be between 1 and 1 GiB, or 0 for the default of 4 MiB")
	case c.DialTimeout < 0:
		return invalid("DialTimeout", "must be positive, or 0 for the default of 1s")
	case c.HandshakeTimeout < 0:
		return invalid("HandshakeTimeout", "must be positive, or 0 for the default of 2s")
	case c.WriteTimeout < 0:
		return invalid("WriteTimeout", "must be positive, or 0 for the default of 5s")
	case c.ConnsPerPeer < 0 || c.ConnsPerPeer > maxConns:
		return invalid("ConnsPerPeer", "must be between 1 and 64, or 0 for the default of 2")
	case c.MaxInflight < 0:
		return invalid("MaxInflight", "must be positive, or 0 for the default of 1024")
	case c.MaxHandshakes < 0:
		return invalid("MaxHandshakes", "must be positive, or 0 for the default of 256")
	case c.MaxHandshakesPerIP < 0:
		return invalid("MaxHandshakesPerIP", "must be positive, or 0 for the default of 32")
	}
	return nil
}

func invalid(field, rule string) error {
	return fmt.Errorf("peer: %w: %s %s", session.ErrInvalidConfig, field, rule)
}
