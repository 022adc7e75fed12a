package client

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

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
// handshake (the gateway's refusal is an error event too; a bare HTTP 401
// from something in between maps to unauthorized).
type Error struct {
	Code    protocol.Code
	Message string
	Fatal   bool // the gateway closes the connection after a fatal error
	// Retryable is the gateway's advice: after a fatal error, whether
	// reconnecting can succeed. The Session redials only when it is set.
	Retryable bool
	Turn      uint64 // the turn it concerns, if any
	Stage     string // "asr", "llm" or "tts" for provider errors
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
// dialling again. The gateway says so itself: an *Error (the fatal error
// event that ended the connection, or the refusal of the handshake) is
// retryable when its Retryable field is set. A connection that ended
// without one — a network failure, a silent gateway — is worth another try,
// unless the peer closed it with a WebSocket status that blames the
// client's own data, which it would send again.
func retryable(err error) bool {
	var e *Error
	if errors.As(err, &e) {
		return e.Retryable
	}
	switch websocket.CloseStatus(err) {
	case websocket.StatusProtocolError, websocket.StatusUnsupportedData,
		websocket.StatusInvalidFramePayloadData, websocket.StatusMessageTooBig:
		return false
	}
	return true
}

// httpError maps a refused WebSocket handshake to an *Error. The gateway
// refuses with an error event in the body, which says everything; a
// refusal by something in between (a proxy, a load balancer) is mapped by
// its status onto the gateway's code for it, with that code's advice.
// Other statuses are returned as the dial error, which is retried.
func httpError(resp *http.Response, err error) error {
	var ev protocol.Error
	if b, rerr := io.ReadAll(io.LimitReader(resp.Body, 4096)); rerr == nil &&
		json.Unmarshal(b, &ev) == nil && ev.Type == protocol.TypeError && ev.Code != "" {
		e := toError(&ev)
		e.Fatal = true
		e.Message = fmt.Sprintf("%s (HTTP %d)", e.Message, resp.StatusCode)
		return e
	}
	switch resp.StatusCode {
	case http.StatusUnauthorized:
		return &Error{Code: protocol.CodeUnauthorized, Message: "the gateway refused the API key (HTTP 401)", Fatal: true}
	case http.StatusForbidden:
		return &Error{Code: protocol.CodeForbiddenOrigin, Message: "the gateway refused the connection (HTTP 403)", Fatal: true}
	case http.StatusTooManyRequests:
		return &Error{Code: protocol.CodeSessionLimit, Message: "the gateway is full (HTTP 429)", Fatal: true, Retryable: true}
	case http.StatusServiceUnavailable:
		return &Error{Code: protocol.CodeShuttingDown, Message: "the gateway is unavailable (HTTP 503)", Fatal: true, Retryable: true}
	}
	return err
}
