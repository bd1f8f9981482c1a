package peer

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"testing"
)

const fuzzMaxBody = 256

var fuzzKey = bytes.Repeat([]byte{7}, 32)

func mustSealer(tb testing.TB) *sealer {
	s, err := newSealer(fuzzKey)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// fuzzSeeds are well-formed streams of frames of every kind, plus the
// classic malformed ones.
func fuzzSeeds(tb testing.TB, sealed bool) [][]byte {
	var s *sealer
	if sealed {
		s = mustSealer(tb)
	}
	var stream []byte
	for _, f := range []frame{
		{id: 1, kind: kindRequest, op: 3, body: []byte("load abc")},
		{id: 1, kind: kindResponse, op: 3, body: bytes.Repeat([]byte("v"), 200)},
		{id: 2, kind: kindError, op: 4, status: 42, body: []byte("stale epoch")},
		{id: 1 << 60, kind: kindTooLarge},
	} {
		stream = appendFrame(stream, &f, s)
	}
	return [][]byte{
		stream,
		stream[:len(stream)-1],
		{0xff, 0xff, 0xff, 0xff},
		binary.BigEndian.AppendUint32(nil, 3),
		append(binary.BigEndian.AppendUint32(nil, 12), make([]byte, 12)...),
		nil,
	}
}

// FuzzFrameDecoder feeds arbitrary bytes to the frame reader, plain and
// sealed: it must never panic, never return a body over the limit, and
// every frame it accepts must re-encode to exactly the bytes it consumed.
func FuzzFrameDecoder(f *testing.F) {
	for _, sealed := range []bool{false, true} {
		for _, seed := range fuzzSeeds(f, sealed) {
			f.Add(sealed, seed)
		}
	}
	f.Fuzz(func(t *testing.T, sealed bool, data []byte) {
		fr := frameReader{r: bufio.NewReader(bytes.NewReader(data)), maxBody: fuzzMaxBody}
		var reseal *sealer
		if sealed {
			fr.open, reseal = mustSealer(t), mustSealer(t)
		}
		rest := data
		for {
			fm, err := fr.next()
			if err != nil {
				checkDecodeError(t, err)
				return
			}
			if len(fm.body) > fuzzMaxBody {
				t.Fatalf("decoded a %d-byte body over the %d limit", len(fm.body), fuzzMaxBody)
			}
			wire := appendFrame(nil, &fm, reseal)
			if !bytes.HasPrefix(rest, wire) {
				t.Fatalf("frame %+v re-encodes to %x, input was %x", fm, wire, rest)
			}
			rest = rest[len(wire):]
		}
	})
}

// checkDecodeError: a decoder error says what was wrong with the input.
func checkDecodeError(t *testing.T, err error) {
	for _, want := range []error{ErrProtocol, ErrFrameTooLarge, ErrAuth} {
		if errors.Is(err, want) {
			return
		}
	}
	if msg := err.Error(); msg != "EOF" && msg != "unexpected EOF" && !bytes.Contains([]byte(msg), []byte("unexpected EOF")) {
		t.Fatalf("decoder error %q names no cause", msg)
	}
}

func TestFrameRoundTrip(t *testing.T) {
	for _, sealed := range []bool{false, true} {
		stream := fuzzSeeds(t, sealed)[0]
		fr := frameReader{r: bufio.NewReader(bytes.NewReader(stream)), maxBody: fuzzMaxBody}
		if sealed {
			fr.open = mustSealer(t)
		}
		want := []struct {
			id     uint64
			kind   kind
			status uint16
			body   int
		}{{1, kindRequest, 0, 8}, {1, kindResponse, 0, 200}, {2, kindError, 42, 11}, {1 << 60, kindTooLarge, 0, 0}}
		for i, w := range want {
			f, err := fr.next()
			if err != nil || f.id != w.id || f.kind != w.kind || f.status != w.status || len(f.body) != w.body {
				t.Fatalf("sealed=%v frame %d: %+v, %v; want %+v", sealed, i, f, err, w)
			}
		}
	}
}

func TestFrameLimit(t *testing.T) {
	fr := frameReader{maxBody: 10}
	ok := appendFrame(nil, &frame{id: 1, kind: kindRequest, body: make([]byte, 10)}, nil)
	big := appendFrame(nil, &frame{id: 1, kind: kindRequest, body: make([]byte, 11)}, nil)
	fr.r = bufio.NewReader(bytes.NewReader(append(ok, big...)))
	if _, err := fr.next(); err != nil {
		t.Fatalf("body of exactly maxBody: %v", err)
	}
	if _, err := fr.next(); !errors.Is(err, ErrFrameTooLarge) {
		t.Fatalf("body of maxBody+1: got %v, want ErrFrameTooLarge", err)
	}
}

// FuzzHello: parseHello never panics, fails only with ErrProtocol, and
// a hello of this version that it accepts marshals back to the same bytes
// (but the reserved byte).
func FuzzHello(f *testing.F) {
	f.Add(hello{version: protoVersion, flags: flagSecret}.marshal())
	f.Add(hello{version: protoVersion, flags: flagSecret, name: "node1-0a1b2c3d4e5f"}.marshal())
	f.Add(append(hello{version: protoVersion, name: "n"}.marshal(), 'x'))
	f.Add([]byte("SMPR"))
	f.Add(bytes.Repeat([]byte{0}, helloSize))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := parseHello(b)
		if err != nil {
			if !errors.Is(err, ErrProtocol) {
				t.Fatalf("parseHello error %v is not ErrProtocol", err)
			}
			return
		}
		if h.version != protoVersion {
			return
		}
		if m := h.marshal(); !bytes.Equal(m[:7], b[:7]) || !bytes.Equal(m[8:], b[8:]) {
			t.Fatalf("hello %x parses to %+v", b, h)
		}
	})
}
