package servertest

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"
)

// A minimal RESP2 client, enough for readiness probes and cluster setup;
// it keeps this package free of a redis client library.

// respError is an error reply ("-ERR ...") from the server.
type respError string

func (e respError) Error() string { return string(e) }

// respDo dials addr, sends each command in turn on one connection and
// returns the reply to the last one. An error reply to any command is
// returned as a respError.
func respDo(addr string, cmds ...[]string) (any, error) {
	return respDoTimeout(addr, 2*time.Second, cmds...)
}

// respDoTimeout is respDo with a deadline for the whole exchange.
func respDoTimeout(addr string, timeout time.Duration, cmds ...[]string) (any, error) {
	conn, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(timeout)); err != nil {
		return nil, err
	}
	r := bufio.NewReader(conn)
	var reply any
	for _, cmd := range cmds {
		if _, err := conn.Write(encodeCommand(cmd)); err != nil {
			return nil, fmt.Errorf("%s: send %s: %w", addr, cmd[0], err)
		}
		if reply, err = readReply(r); err != nil {
			return nil, fmt.Errorf("%s: %s: %w", addr, strings.Join(cmd, " "), err)
		}
	}
	return reply, nil
}

func encodeCommand(args []string) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	return []byte(b.String())
}

// readReply reads one reply: simple strings, integers and bulk strings
// become string, a null bulk or array becomes nil, arrays become []any.
func readReply(r *bufio.Reader) (any, error) {
	line, err := r.ReadString('\n')
	if err != nil {
		return nil, err
	}
	line = strings.TrimSuffix(line, "\r\n")
	if line == "" {
		return nil, errors.New("empty reply line")
	}
	kind, rest := line[0], line[1:]
	switch kind {
	case '+', ':':
		return rest, nil
	case '-':
		return nil, respError(rest)
	case '$':
		return readBulk(r, rest)
	case '*':
		return readArray(r, rest)
	}
	return nil, fmt.Errorf("unexpected reply %q", line)
}

func readBulk(r *bufio.Reader, size string) (any, error) {
	n, err := strconv.Atoi(size)
	if err != nil || n < 0 {
		return nil, err
	}
	buf := make([]byte, n+2)
	if _, err := io.ReadFull(r, buf); err != nil {
		return nil, err
	}
	return string(buf[:n]), nil
}

func readArray(r *bufio.Reader, size string) (any, error) {
	n, err := strconv.Atoi(size)
	if err != nil || n < 0 {
		return nil, err
	}
	items := make([]any, n)
	for i := range items {
		if items[i], err = readReply(r); err != nil {
			return nil, err
		}
	}
	return items, nil
}
