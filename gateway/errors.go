package gateway

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/coder/websocket"

	"github.com/voicegate/voicegate/gateway/protocol"
	"github.com/voicegate/voicegate/pipeline"
)

// errorClass is what the client is told about an error: the code of its
// error event, whether the connection ends, and if so with which status,
// and whether trying again can help.
type errorClass struct {
	Code      protocol.Code
	Fatal     bool
	Status    websocket.StatusCode // set when Fatal
	Retryable bool
}

// codeRule is the gateway's policy for one code.
type codeRule struct {
	Fatal     bool                 // the connection ends after it
	Status    websocket.StatusCode // the close status of a fatal error on an open connection
	HTTP      int                  // the HTTP status of a refusal before the upgrade
	Retryable bool                 // see protocol.Error
}

// codeRules is the one table of what each code means for the client: every
// code the protocol defines has its row, and docs/protocol.md's Errors
// table shows the same (tests hold both to it). Retryable after a fatal
// error means that the condition is the server's or the network's and may
// pass; a client that would only be refused again for the same reason (its
// key, its version, its frames, another client holding the session) is
// told not to.
var codeRules = map[protocol.Code]codeRule{
	// Not fatal: reported, and the session goes on. A mistake in a message
	// is made again by sending it again; a full text queue drains.
	protocol.CodeInvalidJSON:     {},
	protocol.CodeUnknownType:     {},
	protocol.CodeInvalidMessage:  {},
	protocol.CodeNotStarted:      {},
	protocol.CodeAlreadyStarted:  {},
	protocol.CodeOddFrame:        {},
	protocol.CodeTextTooLong:     {},
	protocol.CodeAudioInTextOnly: {},
	protocol.CodeResumeFailed:    {}, // the token is spent; a new session has started instead
	protocol.CodeUnknownToolCall: {}, // a result for no call awaiting one: the session goes on
	// A language the server does not speak: no session starts, and the
	// client may send session.start again with one it does.
	protocol.CodeUnsupportedLang: {},
	protocol.CodeBusy:            {Retryable: true},

	// Provider failures lose their turn only; the next may succeed, unless
	// the provider refused the request itself.
	protocol.CodeProviderTimeout:   {Retryable: true},
	protocol.CodeProviderRateLimit: {Retryable: true},
	protocol.CodeProviderDown:      {Retryable: true},
	protocol.CodeProviderRejected:  {},
	protocol.CodeProviderError:     {Retryable: true},

	// Refused before the upgrade (or the ticket), with an HTTP status. A
	// connection opened with a resume token that then cannot resume is
	// unauthorized after the upgrade, hence a close status too.
	protocol.CodeUnauthorized:    {Fatal: true, Status: websocket.StatusPolicyViolation, HTTP: http.StatusUnauthorized},
	protocol.CodeForbiddenOrigin: {Fatal: true, HTTP: http.StatusForbidden},
	protocol.CodeForbiddenHost:   {Fatal: true, HTTP: http.StatusForbidden},
	protocol.CodeTicketLimit:     {Fatal: true, HTTP: http.StatusTooManyRequests, Retryable: true},

	// Fatal, and the same client would be refused again.
	protocol.CodeUnsupportedVersion: {Fatal: true, Status: websocket.StatusUnsupportedData},
	protocol.CodeUnsupportedRate:    {Fatal: true, Status: websocket.StatusUnsupportedData},
	protocol.CodeFrameTooLarge:      {Fatal: true, Status: websocket.StatusMessageTooBig},
	protocol.CodeMessageTooLarge:    {Fatal: true, Status: websocket.StatusMessageTooBig},
	protocol.CodeSuperseded:         {Fatal: true, Status: websocket.StatusNormalClosure}, // another client has the session

	// Fatal, and reconnecting (resuming) may well succeed.
	protocol.CodeStartTimeout: {Fatal: true, Status: websocket.StatusPolicyViolation, Retryable: true},
	protocol.CodeSlowConsumer: {Fatal: true, Status: websocket.StatusPolicyViolation, Retryable: true},
	protocol.CodeSessionLimit: {Fatal: true, Status: websocket.StatusTryAgainLater, Retryable: true},
	protocol.CodeRateLimited: {Fatal: true, Status: websocket.StatusTryAgainLater, HTTP: http.StatusTooManyRequests,
		Retryable: true}, // this client's share: its address's or key's connections (HTTP), its session starts (1013)
	protocol.CodeHeartbeatTimeout: {Fatal: true, Status: websocket.StatusGoingAway, Retryable: true},
	protocol.CodeInternal:         {Fatal: true, Status: websocket.StatusInternalError, Retryable: true}, // not fatal for a failed turn
	protocol.CodeShuttingDown: {Fatal: true, Status: websocket.StatusServiceRestart, HTTP: http.StatusServiceUnavailable,
		Retryable: true},
}

// classOf returns the class of code by codeRules.
func classOf(code protocol.Code) errorClass {
	r := codeRules[code]
	return errorClass{Code: code, Fatal: r.Fatal, Status: r.Status, Retryable: r.Retryable}
}

// event returns the error event for the class, with msg.
func (cl errorClass) event(msg string) *protocol.Error {
	e := protocol.NewError(cl.Code, msg, cl.Fatal)
	e.Retryable = cl.Retryable
	return e
}

// providerCodes maps the pipeline's provider error kinds to wire codes, in
// the order they are tested.
var providerCodes = []struct {
	err  error
	code protocol.Code
}{
	{pipeline.ErrTimeout, protocol.CodeProviderTimeout},
	{pipeline.ErrRateLimited, protocol.CodeProviderRateLimit},
	{pipeline.ErrUnavailable, protocol.CodeProviderDown},
	{pipeline.ErrRejected, protocol.CodeProviderRejected},
	{pipeline.ErrBadResponse, protocol.CodeProviderError},
}

// classify is the one place that maps an error to what the client is told:
// it finds the error's code and returns that code's class by codeRules. It
// returns ok=false for errors that are not errors: a nil error, a normal
// closure or a cancelled context.
//
//   - a *protocol.ProtocolError (or one wrapped): its code
//   - a *pipeline.StageError: provider_* by its kind (pipeline.ErrTimeout →
//     provider_timeout, ErrRateLimited → provider_rate_limited,
//     ErrUnavailable → provider_unavailable, ErrRejected →
//     provider_rejected, anything else → provider_error)
//   - pipeline.ErrTextTooLong → text_too_long, pipeline.ErrBusy →
//     session_busy
//   - anything else: internal_error
func classify(err error) (errorClass, bool) {
	if isQuiet(err) {
		return errorClass{}, false
	}
	return classOf(codeOf(err)), true
}

func codeOf(err error) protocol.Code {
	if code, ok := protocol.CodeOf(err); ok {
		return code
	}
	var se *pipeline.StageError
	if errors.As(err, &se) {
		return providerCode(se.Err)
	}
	switch {
	case errors.Is(err, pipeline.ErrTextTooLong):
		return protocol.CodeTextTooLong
	case errors.Is(err, pipeline.ErrBusy):
		return protocol.CodeBusy
	}
	for _, p := range providerCodes {
		if errors.Is(err, p.err) {
			return p.code
		}
	}
	return protocol.CodeInternal
}

func providerCode(err error) protocol.Code {
	for _, p := range providerCodes {
		if errors.Is(err, p.err) {
			return p.code
		}
	}
	return protocol.CodeProviderError
}

// isQuiet reports errors that end a connection in the ordinary way and are
// not worth an error log: the client closed (1000, 1001, or no status), the
// connection was cancelled by the server, or the peer went away.
func isQuiet(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) {
		return true
	}
	switch websocket.CloseStatus(err) {
	case websocket.StatusNormalClosure, websocket.StatusGoingAway, websocket.StatusNoStatusRcvd:
		return true
	}
	return false
}

// stageMessage is the client-facing text of a provider failure. It names the
// stage, the provider and the kind of failure but not the provider's own
// message, which may carry URLs or request details; that goes to the log.
func stageMessage(se *pipeline.StageError) string {
	kind := "provider error"
	for _, p := range providerCodes {
		if errors.Is(se.Err, p.err) {
			kind = p.err.Error()
			break
		}
	}
	if se.Provider == "" {
		return fmt.Sprintf("%s: %s", se.Stage, kind)
	}
	return fmt.Sprintf("%s (%s): %s", se.Stage, se.Provider, kind)
}
