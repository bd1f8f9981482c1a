package peer

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"io"
)

const (
	helloMagic   = "SMPR"
	protoVersion = 2
	helloSize    = 40 // the fixed part: magic(4) | version | flags | name length | reserved | nonce(32)
	proofSize    = sha256.Size
	flagSecret   = 1 << 0 // the sender holds a Secret
)

// MaxName is the longest Config.Name: its length travels in one byte of
// the hello.
const MaxName = 255

// hello opens a connection in each direction. The nonces make every
// connection's proofs and keys unique; the flags let each side see at once
// when the other has no secret, or one when it has none. The name says
// which node the sender is; the proofs and keys are computed over the
// whole hello, so with a Secret the name cannot be changed on the way, and
// a connection speaks for one name from its first frame to its last.
type hello struct {
	version uint8
	flags   uint8
	nonce   [32]byte
	name    string // Config.Name, at most MaxName bytes
}

func newHello(secret []byte, name string) hello {
	h := hello{version: protoVersion, name: name}
	if len(secret) > 0 {
		h.flags |= flagSecret
	}
	rand.Read(h.nonce[:]) // never fails (crypto/rand since Go 1.24)
	return h
}

func (h hello) marshal() []byte {
	b := make([]byte, 0, helloSize+len(h.name))
	b = append(b, helloMagic...)
	b = append(b, h.version, h.flags, byte(len(h.name)), 0)
	b = append(b, h.nonce[:]...)
	return append(b, h.name...)
}

// parseHello decodes a hello. Of another protocol version it decodes only
// the version and flags, whatever follows, so that the caller can say which
// version the other side speaks.
func parseHello(b []byte) (hello, error) {
	if len(b) < helloSize || string(b[:4]) != helloMagic {
		return hello{}, notHello(b)
	}
	h := hello{version: b[4], flags: b[5]}
	if h.version != protoVersion {
		return h, nil
	}
	if len(b) != helloSize+int(b[6]) {
		return hello{}, fmt.Errorf("%w: hello of %d bytes announces a name of %d", ErrProtocol, len(b), b[6])
	}
	copy(h.nonce[:], b[8:])
	h.name = string(b[helloSize:])
	return h, nil
}

func notHello(b []byte) error {
	return fmt.Errorf("%w: not a peer hello (%q...)", ErrProtocol, b[:min(len(b), 8)])
}

// readHello reads a hello: the fixed part, then the name it announces,
// unless it is of another protocol version (whose layout may differ).
func readHello(r io.Reader) ([]byte, hello, error) {
	b := make([]byte, helloSize, helloSize+MaxName)
	if _, err := io.ReadFull(r, b); err != nil {
		return nil, hello{}, err
	}
	if string(b[:4]) != helloMagic {
		return nil, hello{}, notHello(b)
	}
	if b[4] == protoVersion {
		b = b[:helloSize+int(b[6])]
		if _, err := io.ReadFull(r, b[helloSize:]); err != nil {
			return nil, hello{}, fmt.Errorf("read the name of a hello: %w", noEOF(err))
		}
	}
	h, err := parseHello(b)
	return b, h, err
}

// agree checks that the other side's hello is compatible with ours.
func agree(ours, theirs hello) error {
	if theirs.version != ours.version {
		return fmt.Errorf("%w: other side speaks protocol version %d, this side %d", ErrProtocol, theirs.version, ours.version)
	}
	if theirs.flags&flagSecret != ours.flags&flagSecret {
		return fmt.Errorf("%w: %s", ErrAuth, secretMismatch(ours))
	}
	return nil
}

func secretMismatch(ours hello) string {
	if ours.flags&flagSecret != 0 {
		return "other side has no secret"
	}
	return "other side requires a secret, this side has none"
}

// proof proves knowledge of the secret to the other side. The role label
// keeps a proof from being reflected back as the other role's.
func proof(secret []byte, role string, clientHello, serverHello []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("sessionmesh peer v1 " + role))
	m.Write(clientHello)
	m.Write(serverHello)
	return m.Sum(nil)
}

// keys are the sealers of an authenticated connection, nil without a secret.
type keys struct{ send, recv *sealer }

// clientHandshake runs the client side: send hello; read the server's hello
// and proof; send our proof (always, so that a server with another secret
// can log why it refuses us); then check the server's proof. It returns
// the connection's keys and the server's name.
func clientHandshake(r io.Reader, w io.Writer, secret []byte, name string) (keys, string, error) {
	ours := newHello(secret, name)
	ch := ours.marshal()
	if _, err := w.Write(ch); err != nil {
		return keys{}, "", fmt.Errorf("send hello: %w", err)
	}
	sh, theirs, err := readHello(r)
	if err != nil {
		return keys{}, "", fmt.Errorf("read server hello: %w", noEOF(err))
	}
	if err := agree(ours, theirs); err != nil || len(secret) == 0 {
		return keys{}, theirs.name, err
	}
	theirProof := make([]byte, proofSize)
	if _, err := io.ReadFull(r, theirProof); err != nil {
		return keys{}, "", fmt.Errorf("read server proof: %w", noEOF(err))
	}
	if _, err := w.Write(proof(secret, "client", ch, sh)); err != nil {
		return keys{}, "", fmt.Errorf("send proof: %w", err)
	}
	if !hmac.Equal(theirProof, proof(secret, "server", ch, sh)) {
		return keys{}, "", fmt.Errorf("%w: server does not hold this secret", ErrAuth)
	}
	k, err := newKeys(secret, ch, sh, true)
	return k, theirs.name, err
}

// serverHandshake runs the server side: read the client's hello; answer
// with ours (and our proof), even when the client's version or flags do not
// match, so that the client can say why it fails; then check the client's
// proof. It returns the connection's keys and the client's name.
func serverHandshake(r io.Reader, w io.Writer, secret []byte, name string) (keys, string, error) {
	ours := newHello(secret, name)
	ch, theirs, err := readHello(r)
	if err != nil {
		return keys{}, "", fmt.Errorf("read hello: %w", err)
	}
	sh := ours.marshal()
	if _, err := w.Write(serverGreeting(secret, ch, sh)); err != nil {
		return keys{}, "", fmt.Errorf("send hello: %w", err)
	}
	if err := agree(ours, theirs); err != nil || len(secret) == 0 {
		return keys{}, theirs.name, err
	}
	k, err := checkClientProof(r, secret, ch, sh)
	return k, theirs.name, err
}

func serverGreeting(secret, ch, sh []byte) []byte {
	if len(secret) == 0 {
		return sh
	}
	return append(sh, proof(secret, "server", ch, sh)...)
}

func checkClientProof(r io.Reader, secret, ch, sh []byte) (keys, error) {
	got := make([]byte, proofSize)
	if _, err := io.ReadFull(r, got); err != nil {
		return keys{}, fmt.Errorf("read client proof: %w", err)
	}
	if !hmac.Equal(got, proof(secret, "client", ch, sh)) {
		return keys{}, fmt.Errorf("%w: client does not hold this secret", ErrAuth)
	}
	return newKeys(secret, ch, sh, false)
}

func newKeys(secret, ch, sh []byte, client bool) (keys, error) {
	send, recv, err := deriveSealers(secret, ch, sh, client)
	return keys{send: send, recv: recv}, err
}
