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
// extra, in a server's hello, counts the proofs that follow beyond the
// first: one per key of its list. It was a reserved 0 before key lists, so
// a server with one key speaks exactly as before.
type hello struct {
	version uint8
	flags   uint8
	extra   uint8 // a server's keys - 1; 0 in a client's hello
	nonce   [32]byte
	name    string // Config.Name, at most MaxName bytes
}

func newHello(secrets [][]byte, name string) hello {
	h := hello{version: protoVersion, name: name}
	if len(secrets) > 0 {
		h.flags |= flagSecret
	}
	rand.Read(h.nonce[:]) // never fails (crypto/rand since Go 1.24)
	return h
}

func (h hello) marshal() []byte {
	b := make([]byte, 0, helloSize+len(h.name))
	b = append(b, helloMagic...)
	b = append(b, h.version, h.flags, byte(len(h.name)), h.extra)
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
	h.extra = b[7]
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

// proven returns the first of secrets that one of proofs was made with,
// for role over the two hellos; false when none was.
func proven(secrets [][]byte, proofs [][]byte, role string, ch, sh []byte) ([]byte, bool) {
	for _, s := range secrets {
		want := proof(s, role, ch, sh)
		for _, p := range proofs {
			if hmac.Equal(p, want) {
				return s, true
			}
		}
	}
	return nil, false
}

// keys are the sealers of an authenticated connection, nil without a secret.
type keys struct{ send, recv *sealer }

// clientHandshake runs the client side: send hello; read the server's hello
// and its proofs, one per key of its list; pick the first of our keys the
// server proved; send our proof with it (with our first key when there is
// none, so that the server can log why it refuses us); then fail unless
// there was one. Both sides derive the connection's keys from the key
// picked: the server finds which one it is by checking our proof against
// each of its keys. It returns the connection's keys and the server's name.
func clientHandshake(r io.Reader, w io.Writer, secrets [][]byte, name string) (keys, string, error) {
	ours := newHello(secrets, name)
	ch := ours.marshal()
	if _, err := w.Write(ch); err != nil {
		return keys{}, "", fmt.Errorf("send hello: %w", err)
	}
	sh, theirs, err := readHello(r)
	if err != nil {
		return keys{}, "", fmt.Errorf("read server hello: %w", noEOF(err))
	}
	if err := agree(ours, theirs); err != nil || len(secrets) == 0 {
		return keys{}, theirs.name, err
	}
	theirProofs, err := readProofs(r, 1+int(theirs.extra))
	if err != nil {
		return keys{}, "", fmt.Errorf("read server proof: %w", noEOF(err))
	}
	secret, ok := proven(secrets, theirProofs, "server", ch, sh)
	if !ok {
		secret = secrets[0]
	}
	if _, err := w.Write(proof(secret, "client", ch, sh)); err != nil {
		return keys{}, "", fmt.Errorf("send proof: %w", err)
	}
	if !ok {
		return keys{}, "", fmt.Errorf("%w: server proved %d key(s), none of this side's %d (it holds other keys, or a hello was changed on the way)", ErrAuth, len(theirProofs), len(secrets))
	}
	k, err := newKeys(secret, ch, sh, true)
	return k, theirs.name, err
}

// readProofs reads n proofs; a server announces at most MaxSecrets.
func readProofs(r io.Reader, n int) ([][]byte, error) {
	if n > MaxSecrets {
		return nil, fmt.Errorf("%w: server announces %d proofs, at most %d are allowed", ErrProtocol, n, MaxSecrets)
	}
	b := make([]byte, n*proofSize)
	if _, err := io.ReadFull(r, b); err != nil {
		return nil, err
	}
	proofs := make([][]byte, n)
	for i := range proofs {
		proofs[i] = b[i*proofSize : (i+1)*proofSize]
	}
	return proofs, nil
}

// serverHandshake runs the server side: read the client's hello; answer
// with ours and a proof for each of our keys, even when the client's
// version or flags do not match, so that the client can say why it fails;
// then check the client's proof against each of our keys. It returns the
// connection's keys and the client's name.
func serverHandshake(r io.Reader, w io.Writer, secrets [][]byte, name string) (keys, string, error) {
	ours := newHello(secrets, name)
	if len(secrets) > 0 {
		ours.extra = uint8(len(secrets) - 1)
	}
	ch, theirs, err := readHello(r)
	if err != nil {
		return keys{}, "", fmt.Errorf("read hello: %w", err)
	}
	sh := ours.marshal()
	if _, err := w.Write(serverGreeting(secrets, ch, sh)); err != nil {
		return keys{}, "", fmt.Errorf("send hello: %w", err)
	}
	if err := agree(ours, theirs); err != nil || len(secrets) == 0 {
		return keys{}, theirs.name, err
	}
	k, err := checkClientProof(r, secrets, ch, sh)
	return k, theirs.name, err
}

func serverGreeting(secrets [][]byte, ch, sh []byte) []byte {
	b := append([]byte(nil), sh...)
	for _, s := range secrets {
		b = append(b, proof(s, "server", ch, sh)...)
	}
	return b
}

func checkClientProof(r io.Reader, secrets [][]byte, ch, sh []byte) (keys, error) {
	got := make([]byte, proofSize)
	if _, err := io.ReadFull(r, got); err != nil {
		return keys{}, fmt.Errorf("read client proof: %w", err)
	}
	secret, ok := proven(secrets, [][]byte{got}, "client", ch, sh)
	if !ok {
		return keys{}, fmt.Errorf("%w: client proved none of this side's %d key(s) (it holds other keys, or a hello was changed on the way)", ErrAuth, len(secrets))
	}
	return newKeys(secret, ch, sh, false)
}

func newKeys(secret, ch, sh []byte, client bool) (keys, error) {
	send, recv, err := deriveSealers(secret, ch, sh, client)
	return keys{send: send, recv: recv}, err
}
