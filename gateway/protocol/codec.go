package protocol

import (
	"bytes"
	"encoding/json"
	"unicode/utf8"
)

// Limits on client text messages. A text frame larger than the gateway's
// read limit never reaches Decode.
const (
	maxIDBytes    = 128
	maxTokenBytes = 256
)

// Decode parses one client text frame. It returns *SessionStart, *InputText,
// *Interrupt or *Ping, or a *ProtocolError that says what is wrong.
// maxText caps input.text in bytes; ≤ 0 leaves it to the frame limit.
func Decode(data []byte, maxText int) (any, error) {
	data = bytes.TrimSpace(data)
	if len(data) == 0 || data[0] != '{' {
		return nil, Errorf(CodeInvalidJSON, "a text frame must be a JSON object")
	}
	if !utf8.Valid(data) {
		return nil, Errorf(CodeInvalidJSON, "text frame is not valid UTF-8")
	}
	var env struct {
		Type *string `json:"type"`
	}
	if err := json.Unmarshal(data, &env); err != nil {
		return nil, Errorf(CodeInvalidJSON, "%v", err)
	}
	if env.Type == nil {
		return nil, Errorf(CodeInvalidMessage, `missing "type"`)
	}
	switch *env.Type {
	case TypeSessionStart:
		var m SessionStart
		if err := json.Unmarshal(data, &m); err != nil {
			return nil, Errorf(CodeInvalidMessage, "session.start: %v", err)
		}
		if m.Version != 0 && m.Version != Version {
			return nil, Errorf(CodeUnsupportedVersion, "protocol version %d is not supported (this server speaks %d)", m.Version, Version)
		}
		if len(m.ResumeToken) > maxTokenBytes {
			return nil, Errorf(CodeInvalidMessage, "session.start: resume_token longer than %d bytes", maxTokenBytes)
		}
		return &m, nil
	case TypeInputText:
		var m InputText
		if err := json.Unmarshal(data, &m); err != nil {
			return nil, Errorf(CodeInvalidMessage, "input.text: %v", err)
		}
		if maxText > 0 && len(m.Text) > maxText {
			return nil, Errorf(CodeTextTooLong, "input.text is %d bytes; the limit is %d", len(m.Text), maxText)
		}
		if len(bytes.TrimSpace([]byte(m.Text))) == 0 {
			return nil, Errorf(CodeInvalidMessage, "input.text: text is empty")
		}
		return &m, nil
	case TypeInterrupt:
		return &Interrupt{Type: TypeInterrupt}, nil
	case TypePing:
		var m Ping
		if err := json.Unmarshal(data, &m); err != nil {
			return nil, Errorf(CodeInvalidMessage, "ping: %v", err)
		}
		if len(m.ID) > maxIDBytes {
			return nil, Errorf(CodeInvalidMessage, "ping: id longer than %d bytes", maxIDBytes)
		}
		return &m, nil
	default:
		t := *env.Type
		if len(t) > 64 {
			t = t[:64] + "…"
		}
		return nil, Errorf(CodeUnknownType, "unknown message type %q", t)
	}
}

// Encode marshals a server message. The Type field must already be set
// (NewError sets it).
func Encode(msg any) ([]byte, error) { return json.Marshal(msg) }

// NewError returns an Error event.
func NewError(code Code, msg string, fatal bool) *Error {
	return &Error{Type: TypeError, Code: code, Message: msg, Fatal: fatal}
}
