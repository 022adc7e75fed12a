package realtime

import "fmt"

// Error types, as the Realtime API names them in error.type.
const (
	TypeInvalidRequest = "invalid_request_error" // the client's event is wrong; sending it again fails again
	TypeServer         = "server_error"          // voicegate or a provider failed; trying again may work
)

// Error codes voicegate sends in error.code. The first group is also
// OpenAI's; the rest are voicegate's own, named in docs/realtime.md.
const (
	CodeInvalidValue       = "invalid_value"              // a value is out of range or not one of the supported ones (param names it)
	CodeUnknownParameter   = "unknown_parameter"          // a field the event does not have
	CodeMissingParameter   = "missing_required_parameter" // a required field is absent
	CodeInvalidType        = "invalid_type"               // a field has the wrong JSON type
	CodeActiveResponse     = "conversation_already_has_active_response"
	CodeCommitEmpty        = "input_audio_buffer_commit_empty"
	CodeCancelNotActive    = "response_cancel_not_active"
	CodeInvalidJSON        = "invalid_json"        // the message is not a JSON object
	CodeUnknownEvent       = "invalid_event_type"  // type names no client event
	CodeEventTooLarge      = "event_too_large"     // the message is over the size limit (the connection goes on)
	CodeInvalidAudio       = "invalid_audio"       // audio that does not decode in the session's input format
	CodeUnsupported        = "unsupported_feature" // valid Realtime, but a feature this server does not offer
	CodeItemNotFound       = "item_not_found"
	CodeUnknownModel       = "model_not_found"
	CodeNotAvailable       = "feature_unavailable" // needs a stage this server was not given (e.g. audio output without a synthesizer)
	CodeServerError        = "server_error"
	CodeTranscriptionError = "transcription_failed"
	CodeResumeFailed       = "resume_failed" // voicegate's resume: the token is unknown or expired; a new session began
)

// Error is the Realtime API's error object: what an error event carries,
// and what Decode returns for a client event it refuses. EventID is the
// client event it answers, when that event had one.
type Error struct {
	Type    string `json:"type"`
	Code    string `json:"code,omitempty"`
	Message string `json:"message"`
	Param   string `json:"param,omitempty"`
	EventID string `json:"event_id,omitempty"`
}

func (e *Error) Error() string {
	if e.Param != "" {
		return fmt.Sprintf("realtime: %s: %s (%s)", e.Code, e.Message, e.Param)
	}
	return fmt.Sprintf("realtime: %s: %s", e.Code, e.Message)
}

// Invalid returns an invalid_request_error with code, about param (may be
// "").
func Invalid(code, param, format string, args ...any) *Error {
	return &Error{Type: TypeInvalidRequest, Code: code, Param: param, Message: fmt.Sprintf(format, args...)}
}

// ServerError returns a server_error with code.
func ServerError(code, format string, args ...any) *Error {
	return &Error{Type: TypeServer, Code: code, Message: fmt.Sprintf(format, args...)}
}

// For returns a copy of e answering the client event eventID.
func (e *Error) For(eventID string) *Error {
	c := *e
	c.EventID = eventID
	return &c
}
