package client

import (
	"errors"
	"fmt"

	"github.com/coder/websocket"

	"github.com/voicegate/voicegate/gateway/protocol"
)

var (
	// ErrClosed is returned by calls on a Session after Close, or after the
	// session ended for good (see Session.Err).
	ErrClosed = errors.New("client: session closed")
	// ErrNotConnected is returned while the Session is reconnecting: the
	// call's message was dropped. Audio sent meanwhile is lost, as speech
	// into a dead line is.
	ErrNotConnected = errors.New("client: not connected")
	// ErrQueueFull is returned when control messages pile up faster than
	// the connection writes them.
	ErrQueueFull = errors.New("client: control queue full")
	// ErrTextOnly is returned by SendAudio on a text-only session.
	ErrTextOnly = errors.New("client: audio on a text-only session")
)

// errHeartbeat ends a connection whose pongs stopped coming.
var errHeartbeat = errors.New("client: no pong from the gateway (heartbeat timeout)")

// Error is an error event from the gateway, or a refusal of the WebSocket
// handshake mapped onto the same codes (HTTP 401 → unauthorized).
type Error struct {
	Code    protocol.Code
	Message string
	Fatal   bool   // the gateway closes the connection after a fatal error
	Turn    uint64 // the turn it concerns, if any
	Stage   string // "asr", "llm" or "tts" for provider errors
}

func (e *Error) Error() string {
	if e.Stage != "" {
		return fmt.Sprintf("voicegate: %s (%s): %s", e.Code, e.Stage, e.Message)
	}
	return fmt.Sprintf("voicegate: %s: %s", e.Code, e.Message)
}

// CodeOf returns the code of err if it is, or wraps, an *Error.
func CodeOf(err error) (protocol.Code, bool) {
	var e *Error
	if errors.As(err, &e) {
		return e.Code, true
	}
	return "", false
}

// retryable reports whether a connection that ended with err is worth
// dialling again. Network failures are; so are the gateway's transient
// refusals. Errors that would recur on every attempt (bad key, bad
// request, another client took the session over) are not.
func retryable(err error) bool {
	if code, ok := CodeOf(err); ok {
		switch code {
		case protocol.CodeShuttingDown, protocol.CodeHeartbeatTimeout, protocol.CodeSlowConsumer,
			protocol.CodeSessionLimit, protocol.CodeInternal, protocol.CodeResumeFailed,
			protocol.CodeProviderTimeout, protocol.CodeProviderRateLimit, protocol.CodeProviderDown,
			protocol.CodeProviderError:
			return true
		}
		return false
	}
	switch websocket.CloseStatus(err) {
	case websocket.StatusPolicyViolation, websocket.StatusProtocolError,
		websocket.StatusUnsupportedData, websocket.StatusInvalidFramePayloadData,
		websocket.StatusMessageTooBig:
		return false
	}
	return true
}

// httpError maps a refused WebSocket handshake to an *Error.
func httpError(status int, err error) error {
	switch status {
	case 401:
		return &Error{Code: protocol.CodeUnauthorized, Message: "the gateway refused the API key (HTTP 401)", Fatal: true}
	case 403:
		return &Error{Code: protocol.CodeForbiddenOrigin, Message: "the gateway refused the connection (HTTP 403)", Fatal: true}
	case 429:
		return &Error{Code: protocol.CodeSessionLimit, Message: "the gateway is full (HTTP 429)", Fatal: true}
	case 503:
		return &Error{Code: protocol.CodeShuttingDown, Message: "the gateway is unavailable (HTTP 503)", Fatal: true}
	}
	return err
}
