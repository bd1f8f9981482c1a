package peer

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"slices"
)

const (
	lenSize    = 4  // uint32 length prefix
	headerSize = 12 // uint64 ID | uint8 kind | uint8 op | uint16 status
)

// kind says what a frame is; it is the first byte after the request ID.
type kind uint8

const (
	kindRequest  kind = 1 // client to server: op and body
	kindResponse kind = 2 // server to client: the handler's answer
	kindError    kind = 3 // server to client: status is the code, body the message
	kindTooLarge kind = 4 // server to client: the answer exceeded MaxFrame
)

// frame is one decoded frame. body aliases the buffer it was read into,
// which belongs to the frame alone.
type frame struct {
	id     uint64
	kind   kind
	op     uint8
	status uint16
	body   []byte
}

// appendFrame appends f in wire form to dst: sealed by s, or plain when s is
// nil. The caller checks the body against MaxFrame first.
func appendFrame(dst []byte, f *frame, s *sealer) []byte {
	start := len(dst)
	dst = append(dst, 0, 0, 0, 0)
	dst = binary.BigEndian.AppendUint64(dst, f.id)
	dst = append(dst, byte(f.kind), f.op)
	dst = binary.BigEndian.AppendUint16(dst, f.status)
	dst = append(dst, f.body...)
	if s != nil {
		// Grow first so that sealing in place never reallocates.
		dst = slices.Grow(dst, s.overhead())
		plain := dst[start+lenSize:]
		sealed := s.seal(plain[:0], plain)
		dst = dst[:start+lenSize+len(sealed)]
	}
	binary.BigEndian.PutUint32(dst[start:], uint32(len(dst)-start-lenSize))
	return dst
}

// parseFrame decodes the plaintext after the length prefix; the body
// aliases b.
func parseFrame(b []byte) (frame, error) {
	if len(b) < headerSize {
		return frame{}, fmt.Errorf("%w: frame of %d bytes is shorter than its %d-byte header", ErrProtocol, len(b), headerSize)
	}
	f := frame{
		id:     binary.BigEndian.Uint64(b),
		kind:   kind(b[8]),
		op:     b[9],
		status: binary.BigEndian.Uint16(b[10:]),
		body:   b[headerSize:],
	}
	if f.kind < kindRequest || f.kind > kindTooLarge {
		return frame{}, fmt.Errorf("%w: unknown frame kind %d", ErrProtocol, f.kind)
	}
	return f, nil
}

// frameReader decodes frames from one connection. Only its connection's
// reader goroutine uses it.
type frameReader struct {
	r       *bufio.Reader
	maxBody int
	open    *sealer // nil: frames are plain
}

// next reads one frame. It checks the announced length before allocating,
// so a hostile length prefix costs nothing.
func (fr *frameReader) next() (frame, error) {
	var p [lenSize]byte
	if _, err := io.ReadFull(fr.r, p[:]); err != nil {
		return frame{}, err
	}
	n := int64(binary.BigEndian.Uint32(p[:]))
	overhead := int64(headerSize + fr.open.overhead())
	if n > int64(fr.maxBody)+overhead {
		return frame{}, fmt.Errorf("%w: %d bytes announced, MaxFrame is %d", ErrFrameTooLarge, n-overhead, fr.maxBody)
	}
	if n < overhead {
		return frame{}, fmt.Errorf("%w: frame of %d bytes is shorter than its %d-byte overhead", ErrProtocol, n, overhead)
	}
	buf := make([]byte, n)
	if _, err := io.ReadFull(fr.r, buf); err != nil {
		return frame{}, fmt.Errorf("read %d-byte frame: %w", n, noEOF(err))
	}
	return fr.decode(buf)
}

func (fr *frameReader) decode(buf []byte) (frame, error) {
	if fr.open == nil {
		return parseFrame(buf)
	}
	plain, err := fr.open.open(buf)
	if err != nil {
		return frame{}, err
	}
	return parseFrame(plain)
}

// noEOF turns io.EOF into io.ErrUnexpectedEOF: inside a frame, the end of
// the stream is an error, not a clean close.
func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}
