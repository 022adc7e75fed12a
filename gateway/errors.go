package gateway

import (
	"context"
	"errors"
	"fmt"

	"github.com/coder/websocket"

	"github.com/voicegate/voicegate/gateway/protocol"
	"github.com/voicegate/voicegate/pipeline"
)

// errorClass is what the client is told about an error: the code of its
// error event, whether the connection ends, and if so with which status.
type errorClass struct {
	Code   protocol.Code
	Fatal  bool
	Status websocket.StatusCode // set when Fatal
}

// fatalCodes are the codes that end the connection, with their close status.
// Every other code is reported and the connection goes on.
var fatalCodes = map[protocol.Code]websocket.StatusCode{
	protocol.CodeUnsupportedVersion: websocket.StatusUnsupportedData, // 1003
	protocol.CodeUnsupportedRate:    websocket.StatusUnsupportedData, // 1003
	protocol.CodeStartTimeout:       websocket.StatusPolicyViolation, // 1008
	protocol.CodeFrameTooLarge:      websocket.StatusMessageTooBig,   // 1009
	protocol.CodeMessageTooLarge:    websocket.StatusMessageTooBig,   // 1009
	protocol.CodeSessionLimit:       websocket.StatusTryAgainLater,   // 1013
	protocol.CodeSlowConsumer:       websocket.StatusPolicyViolation, // 1008
	protocol.CodeHeartbeatTimeout:   websocket.StatusGoingAway,       // 1001
	protocol.CodeShuttingDown:       websocket.StatusServiceRestart,  // 1012
	protocol.CodeSuperseded:         websocket.StatusNormalClosure,   // 1000
	protocol.CodeInternal:           websocket.StatusInternalError,   // 1011
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

// classify is the one place that maps an error to what the client is told.
// It returns ok=false for errors that are not errors: a nil error, a normal
// closure or a cancelled context.
//
//   - a *protocol.ProtocolError (or one wrapped): its code; fatal per fatalCodes
//   - a *pipeline.StageError: provider_* by its kind (pipeline.ErrTimeout →
//     provider_timeout, ErrRateLimited → provider_rate_limited,
//     ErrUnavailable → provider_unavailable, ErrRejected →
//     provider_rejected, anything else → provider_error); not fatal
//   - pipeline.ErrTextTooLong → text_too_long, pipeline.ErrBusy →
//     session_busy; not fatal
//   - anything else: internal_error, fatal, 1011
func classify(err error) (errorClass, bool) {
	if isQuiet(err) {
		return errorClass{}, false
	}
	if code, ok := protocol.CodeOf(err); ok {
		status, fatal := fatalCodes[code]
		return errorClass{Code: code, Fatal: fatal, Status: status}, true
	}
	var se *pipeline.StageError
	if errors.As(err, &se) {
		return errorClass{Code: providerCode(se.Err)}, true
	}
	switch {
	case errors.Is(err, pipeline.ErrTextTooLong):
		return errorClass{Code: protocol.CodeTextTooLong}, true
	case errors.Is(err, pipeline.ErrBusy):
		return errorClass{Code: protocol.CodeBusy}, true
	}
	for _, p := range providerCodes {
		if errors.Is(err, p.err) {
			return errorClass{Code: p.code}, true
		}
	}
	return errorClass{Code: protocol.CodeInternal, Fatal: true, Status: websocket.StatusInternalError}, true
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
