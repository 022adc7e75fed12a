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
	// maxLanguageBytes is the longest language tag taken, as RFC 5646
	// advises implementations to accept at least.
	maxLanguageBytes = 35
)

// Decode parses one client text frame. It returns *SessionStart, *InputText,
// *Interrupt, *Ping, *ToolsSet or *ToolResult, or a *ProtocolError that
// says what is wrong. maxText caps input.text and a tool result's output
// in bytes; ≤ 0 leaves them to the frame limit.
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
		if !validLanguageTag(m.Language) {
			return nil, Errorf(CodeInvalidMessage, `session.start: language must be a BCP 47 tag such as "en" or "zh-CN", at most %d bytes`, maxLanguageBytes)
		}
		if err := checkTools(TypeSessionStart, m.Tools); err != nil {
			return nil, err
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
	case TypeToolsSet:
		var m struct {
			Tools *[]Tool `json:"tools"`
		}
		if err := json.Unmarshal(data, &m); err != nil {
			return nil, Errorf(CodeInvalidMessage, "tools.set: %v", err)
		}
		if m.Tools == nil {
			return nil, Errorf(CodeInvalidMessage, `tools.set: missing "tools" (an empty list removes them)`)
		}
		if err := checkTools(TypeToolsSet, *m.Tools); err != nil {
			return nil, err
		}
		return &ToolsSet{Type: TypeToolsSet, Tools: append([]Tool{}, *m.Tools...)}, nil
	case TypeToolResult:
		var m ToolResult
		if err := json.Unmarshal(data, &m); err != nil {
			return nil, Errorf(CodeInvalidMessage, "tool.result: %v", err)
		}
		if m.CallID == "" || len(m.CallID) > maxIDBytes {
			return nil, Errorf(CodeInvalidMessage, "tool.result: call_id must be 1 to %d bytes", maxIDBytes)
		}
		if maxText > 0 && len(m.Output) > maxText {
			return nil, Errorf(CodeTextTooLong, "tool.result output is %d bytes; the limit is %d", len(m.Output), maxText)
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

// checkTools checks the tools of message typ: at most MaxTools, each with
// a valid, unique name and, if any, parameters that are a JSON object.
// Parameters given as null become none.
func checkTools(typ string, tools []Tool) error {
	if len(tools) > MaxTools {
		return Errorf(CodeInvalidMessage, "%s: %d tools; at most %d", typ, len(tools), MaxTools)
	}
	seen := make(map[string]bool, len(tools))
	for i := range tools {
		t := &tools[i]
		if !validToolName(t.Name) {
			return Errorf(CodeInvalidMessage, "%s: tools[%d]: name must be 1 to 64 letters, digits, '_' or '-'", typ, i)
		}
		if seen[t.Name] {
			return Errorf(CodeInvalidMessage, "%s: two tools named %q", typ, t.Name)
		}
		seen[t.Name] = true
		p := bytes.TrimSpace(t.Parameters)
		switch {
		case len(p) == 0 || string(p) == "null":
			t.Parameters = nil
		case p[0] != '{':
			return Errorf(CodeInvalidMessage, "%s: tool %q: parameters must be a JSON Schema object", typ, t.Name)
		}
	}
	return nil
}

// validToolName reports whether name is one the chat-completion APIs
// accept for a function: 1 to 64 of [A-Za-z0-9_-].
func validToolName(name string) bool {
	if name == "" || len(name) > 64 {
		return false
	}
	for _, r := range name {
		if !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}

// validLanguageTag reports whether tag is "" or has the shape of a BCP 47
// tag: subtags of 1 to 8 letters or digits joined by '-' (or '_', which
// some platforms write), the first of letters. Whether the server speaks
// it is the gateway's question.
func validLanguageTag(tag string) bool {
	if tag == "" {
		return true
	}
	if len(tag) > maxLanguageBytes {
		return false
	}
	n, first := 0, true
	for i := 0; i <= len(tag); i++ {
		if i == len(tag) || tag[i] == '-' || tag[i] == '_' {
			if n == 0 || n > 8 {
				return false
			}
			n, first = 0, false
			continue
		}
		b := tag[i] | 0x20 // lower case, for letters
		letter := 'a' <= b && b <= 'z'
		if !letter && !('0' <= tag[i] && tag[i] <= '9') || first && !letter {
			return false
		}
		n++
	}
	return true
}

// Encode marshals a server message. The Type field must already be set
// (NewError sets it).
func Encode(msg any) ([]byte, error) { return json.Marshal(msg) }

// NewError returns an Error event.
func NewError(code Code, msg string, fatal bool) *Error {
	return &Error{Type: TypeError, Code: code, Message: msg, Fatal: fatal}
}
