package protocol

import (
	"errors"
	"fmt"
)

// Code identifies the kind of an Error event; clients branch on it.
type Code string

// Error codes. Protocol errors are found by Decode; the rest are raised by
// the gateway.
const (
	CodeInvalidJSON        Code = "invalid_json"
	CodeUnknownType        Code = "unknown_type"
	CodeInvalidMessage     Code = "invalid_message"
	CodeUnsupportedVersion Code = "unsupported_version"
	CodeUnsupportedRate    Code = "unsupported_sample_rate"
	CodeUnsupportedLang    Code = "unsupported_language"
	CodeNotStarted         Code = "session_not_started"
	CodeStartTimeout       Code = "session_start_timeout"
	CodeBusy               Code = "session_busy"
	CodeAlreadyStarted     Code = "session_already_started"
	CodeOddFrame           Code = "odd_frame_length"
	CodeFrameTooLarge      Code = "frame_too_large"
	CodeMessageTooLarge    Code = "message_too_large"
	CodeTextTooLong        Code = "text_too_long"
	CodeAudioInTextOnly    Code = "audio_in_text_only"
	CodeResumeFailed       Code = "resume_failed"
	CodeUnknownToolCall    Code = "unknown_tool_call"
	CodeUnauthorized       Code = "unauthorized"
	CodeForbiddenOrigin    Code = "forbidden_origin"
	CodeForbiddenHost      Code = "forbidden_host"
	CodeTicketLimit        Code = "ticket_limit"
	CodeSessionLimit       Code = "session_limit"
	CodeRateLimited        Code = "rate_limited"
	CodeSlowConsumer       Code = "slow_consumer"
	CodeHeartbeatTimeout   Code = "heartbeat_timeout"
	CodeShuttingDown       Code = "shutting_down"
	CodeSuperseded         Code = "superseded"
	CodeProviderTimeout    Code = "provider_timeout"
	CodeProviderRateLimit  Code = "provider_rate_limited"
	CodeProviderDown       Code = "provider_unavailable"
	CodeProviderRejected   Code = "provider_rejected"
	CodeProviderError      Code = "provider_error"
	CodeInternal           Code = "internal_error"
)

// ProtocolError is an error with a wire Code: a message the client got wrong
// (Decode returns it) or a condition the gateway reports to its client. The
// gateway turns it into an Error event.
type ProtocolError struct {
	Code    Code
	Message string
}

func (e *ProtocolError) Error() string { return fmt.Sprintf("protocol: %s: %s", e.Code, e.Message) }

// Errorf returns a *ProtocolError.
func Errorf(code Code, format string, args ...any) error {
	return &ProtocolError{Code: code, Message: fmt.Sprintf(format, args...)}
}

// CodeOf returns the Code of err if it is, or wraps, a *ProtocolError.
func CodeOf(err error) (Code, bool) {
	var pe *ProtocolError
	if errors.As(err, &pe) {
		return pe.Code, true
	}
	return "", false
}
