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
	protoVersion = 1
	helloSize    = 40 // magic(4) | version | flags | reserved(2) | nonce(32)
	proofSize    = sha256.Size
	flagSecret   = 1 << 0 // the sender holds a Secret
)

// hello opens a connection in each direction. The nonces make every
// connection's proofs and keys unique; the flags let each side see at once
// when the other has no secret, or one when it has none.
type hello struct {
	version uint8
	flags   uint8
	nonce   [32]byte
}

func newHello(secret []byte) hello {
	h := hello{version: protoVersion}
	if len(secret) > 0 {
		h.flags |= flagSecret
	}
	rand.Read(h.nonce[:]) // never fails (crypto/rand since Go 1.24)
	return h
}

func (h hello) marshal() []byte {
	b := make([]byte, 0, helloSize)
	b = append(b, helloMagic...)
	b = append(b, h.version, h.flags, 0, 0)
	return append(b, h.nonce[:]...)
}

// parseHello decodes a hello; it accepts any version, so that the caller
// can say which one the other side speaks.
func parseHello(b []byte) (hello, error) {
	if len(b) != helloSize || string(b[:4]) != helloMagic {
		return hello{}, fmt.Errorf("%w: not a peer hello (%q...)", ErrProtocol, b[:min(len(b), 8)])
	}
	h := hello{version: b[4], flags: b[5]}
	copy(h.nonce[:], b[8:])
	return h, nil
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
// can log why it refuses us); then check the server's proof.
func clientHandshake(r io.Reader, w io.Writer, secret []byte) (keys, error) {
	ours := newHello(secret)
	ch := ours.marshal()
	if _, err := w.Write(ch); err != nil {
		return keys{}, fmt.Errorf("send hello: %w", err)
	}
	sh, err := readHello(r, ours)
	if err != nil || len(secret) == 0 {
		return keys{}, err
	}
	theirProof := make([]byte, proofSize)
	if _, err := io.ReadFull(r, theirProof); err != nil {
		return keys{}, fmt.Errorf("read server proof: %w", noEOF(err))
	}
	if _, err := w.Write(proof(secret, "client", ch, sh)); err != nil {
		return keys{}, fmt.Errorf("send proof: %w", err)
	}
	if !hmac.Equal(theirProof, proof(secret, "server", ch, sh)) {
		return keys{}, fmt.Errorf("%w: server does not hold this secret", ErrAuth)
	}
	return newKeys(secret, ch, sh, true)
}

// serverHandshake runs the server side: read the client's hello; answer
// with ours (and our proof), even when the client's version or flags do not
// match, so that the client can say why it fails; then check the client's
// proof.
func serverHandshake(r io.Reader, w io.Writer, secret []byte) (keys, error) {
	ours := newHello(secret)
	ch := make([]byte, helloSize)
	if _, err := io.ReadFull(r, ch); err != nil {
		return keys{}, fmt.Errorf("read hello: %w", err)
	}
	theirs, err := parseHello(ch)
	if err != nil {
		return keys{}, err
	}
	sh := ours.marshal()
	if _, err := w.Write(serverGreeting(secret, ch, sh)); err != nil {
		return keys{}, fmt.Errorf("send hello: %w", err)
	}
	if err := agree(ours, theirs); err != nil || len(secret) == 0 {
		return keys{}, err
	}
	return checkClientProof(r, secret, ch, sh)
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

// readHello reads and checks the server's hello; it returns its bytes.
func readHello(r io.Reader, ours hello) ([]byte, error) {
	sh := make([]byte, helloSize)
	if _, err := io.ReadFull(r, sh); err != nil {
		return nil, fmt.Errorf("read server hello: %w", noEOF(err))
	}
	theirs, err := parseHello(sh)
	if err != nil {
		return nil, err
	}
	return sh, agree(ours, theirs)
}

func newKeys(secret, ch, sh []byte, client bool) (keys, error) {
	send, recv, err := deriveSealers(secret, ch, sh, client)
	return keys{send: send, recv: recv}, err
}
