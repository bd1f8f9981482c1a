package peer

import (
	"errors"
	"fmt"
)

// Errors returned by this package, wrapped with context; check them with
// errors.Is. Every transport failure of a Call wraps ErrUnavailable, so a
// caller can fail over to another replica on that one check; ErrAuth,
// ErrProtocol, ErrFrameTooLarge and a context error may be wrapped as well to
// say why. Config.Validate, NewServer and NewClient wrap
// session.ErrInvalidConfig, the one sentinel of a bad config.
var (
	// ErrUnavailable means the call did not get an answer from the peer:
	// the connection was refused, reset or closed, the handshake failed, or
	// ctx ended first. The handler may or may not have run.
	ErrUnavailable = errors.New("peer: unavailable")

	// ErrFrameTooLarge means a request or response body exceeds MaxFrame.
	// A Call whose request is too large fails before anything is sent; a
	// handler whose response is too large answers with this error instead.
	ErrFrameTooLarge = errors.New("peer: frame too large")

	// ErrAuth means the other side shares no key with this one (or one
	// side has none), or its certificate does not bear the name it gave
	// (Config.VerifyName), or a sealed frame failed authentication.
	ErrAuth = errors.New("peer: authentication failed")

	// ErrProtocol means the other side sent something that is not this
	// protocol: a bad hello, another protocol version, a malformed frame.
	ErrProtocol = errors.New("peer: protocol violation")

	// ErrClosed is returned by a Call on a closed Client.
	ErrClosed = errors.New("peer: closed")
)

// RemoteError is an error returned by the peer's Handler, carried back to
// the caller with the code the handler chose.
type RemoteError struct {
	// Code is the handler's error code; 0 when the handler returned an
	// error that was not a *RemoteError (or panicked).
	Code uint16
	// Msg is the handler's error text.
	Msg string
}

// Errorf returns a *RemoteError with the given code and formatted message.
// A Handler returns it (possibly wrapped) to send code to the caller.
func Errorf(code uint16, format string, args ...any) *RemoteError {
	return &RemoteError{Code: code, Msg: fmt.Sprintf(format, args...)}
}

func (e *RemoteError) Error() string {
	return fmt.Sprintf("peer: remote error %d: %s", e.Code, e.Msg)
}

// maxErrorMsg caps the text of an error sent back to a caller: a message
// is for a log line, and must not make the response exceed MaxFrame.
const maxErrorMsg = 4 << 10

// remoteOf turns a handler's error into the code and message to send. A
// *RemoteError anywhere in the chain gives both; any other error is code 0
// with its text.
func remoteOf(err error) (code uint16, msg string) {
	msg = err.Error()
	var re *RemoteError
	if errors.As(err, &re) {
		code, msg = re.Code, re.Msg
	}
	if len(msg) > maxErrorMsg {
		msg = msg[:maxErrorMsg]
	}
	return code, msg
}
