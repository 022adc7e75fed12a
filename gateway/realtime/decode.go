package realtime

import (
	"encoding/base64"
	"encoding/json"
	"unicode/utf8"
)

// ClientEvent is one decoded client event: *SessionUpdateEvent,
// *AppendEvent, *CommitEvent, *ClearEvent, *ItemCreateEvent,
// *ItemRetrieveEvent, *ItemTruncateEvent, *ItemDeleteEvent,
// *ResponseCreateEvent or *ResponseCancelEvent.
type ClientEvent interface {
	// ID returns the client's event_id, "" if it sent none.
	ID() string
	// Type returns the event's type.
	Type() string
}

// Base is what every client event has.
type Base struct {
	EventID string
}

// ID returns the event_id.
func (b Base) ID() string { return b.EventID }

// SessionUpdateEvent is session.update.
type SessionUpdateEvent struct {
	Base
	Session SessionUpdate
}

// AppendEvent is input_audio_buffer.append.
type AppendEvent struct {
	Base
	// Audio is the decoded audio, in the session's input format. It
	// belongs to the Decoder and is valid until its next Decode.
	Audio []byte
}

// CommitEvent is input_audio_buffer.commit.
type CommitEvent struct{ Base }

// ClearEvent is input_audio_buffer.clear.
type ClearEvent struct{ Base }

// ItemCreateEvent is conversation.item.create.
type ItemCreateEvent struct {
	Base
	PreviousItemID *string
	Item           Item
}

// ItemRetrieveEvent is conversation.item.retrieve.
type ItemRetrieveEvent struct {
	Base
	ItemID string
}

// ItemDeleteEvent is conversation.item.delete.
type ItemDeleteEvent struct {
	Base
	ItemID string
}

// ItemTruncateEvent is conversation.item.truncate.
type ItemTruncateEvent struct {
	Base
	ItemID       string
	ContentIndex int
	AudioEndMS   int
}

// ResponseCreateEvent is response.create.
type ResponseCreateEvent struct {
	Base
	Response ResponseParams
}

// ResponseCancelEvent is response.cancel.
type ResponseCancelEvent struct {
	Base
	ResponseID string // "" for the one in progress
}

// Type implementations.
func (*SessionUpdateEvent) Type() string  { return TypeSessionUpdate }
func (*AppendEvent) Type() string         { return TypeAppend }
func (*CommitEvent) Type() string         { return TypeCommit }
func (*ClearEvent) Type() string          { return TypeClear }
func (*ItemCreateEvent) Type() string     { return TypeItemCreate }
func (*ItemRetrieveEvent) Type() string   { return TypeItemRetrieve }
func (*ItemDeleteEvent) Type() string     { return TypeItemDelete }
func (*ItemTruncateEvent) Type() string   { return TypeItemTruncate }
func (*ResponseCreateEvent) Type() string { return TypeResponseCreate }
func (*ResponseCancelEvent) Type() string { return TypeResponseCancel }

// Limits bound what one client event may carry.
type Limits struct {
	// MaxAudioBytes caps the audio of one input_audio_buffer.append, in
	// bytes once decoded (OpenAI's limit is 15 MiB).
	MaxAudioBytes int
	// MaxEventBytes caps every other event.
	MaxEventBytes int
	// MaxTextBytes caps the text of one conversation item.
	MaxTextBytes int
}

// Decoder decodes client events in one dialect. It keeps the buffer of the
// last append's audio, so a stream of appends costs no allocation; it is
// not safe for concurrent use.
type Decoder struct {
	Dialect Dialect
	Limits  Limits
	// TurnDefaults fill a turn_detection's missing settings.
	TurnDefaults TurnDefaults
	audio        []byte
	append       AppendEvent // returned by every append, valid until the next Decode
}

// MaxEventIDBytes caps an event_id: a longer one is refused, and not
// echoed.
const MaxEventIDBytes = maxIDBytes

// shrinkAbove is the audio buffer size past which the Decoder gives the
// buffer back after use, so that a client's one large append is not held
// for the life of its connection.
const shrinkAbove = 256 << 10

// Decode parses one client text message. On failure it returns an *Error,
// with EventID set to the event's event_id whenever one could be read.
// An append is the Decoder's own *AppendEvent, its Audio the Decoder's
// buffer: both are valid until the next Decode, so that a stream of
// appends allocates nothing.
func (d *Decoder) Decode(data []byte) (ClientEvent, error) {
	if cap(d.audio) > shrinkAbove {
		d.audio = nil
	}
	if !json.Valid(data) {
		return nil, Invalid(CodeInvalidJSON, "", "The event is not valid JSON.")
	}
	if !utf8.Valid(data) {
		return nil, Invalid(CodeInvalidJSON, "", "The event is not valid UTF-8.")
	}
	var typ, id, audio []byte
	var typeOK, idOK, audioOK = true, true, true
	isObject := fields(data, func(k, v []byte) {
		switch string(k) {
		case "type":
			typ, typeOK = stringValue(v)
		case "event_id":
			id, idOK = stringValue(v)
		case "audio":
			audio, audioOK = stringValue(v)
		}
	})
	if !isObject {
		return nil, Invalid(CodeInvalidJSON, "", "An event is a JSON object.")
	}
	eventID := ""
	if id != nil || !idOK {
		if !idOK || !validID(string(id)) {
			return nil, Invalid(CodeInvalidValue, "event_id", "'event_id' must be a string of 1 to %d printable ASCII characters.", maxIDBytes)
		}
		eventID = string(id)
	}
	fail := func(e *Error) (ClientEvent, error) { return nil, e.For(eventID) }
	if !typeOK {
		return fail(Invalid(CodeInvalidType, "type", "Invalid type for 'type': expected a string."))
	}
	if typ == nil {
		return fail(Invalid(CodeMissingParameter, "type", "Missing required parameter: 'type'."))
	}
	if string(typ) == TypeAppend {
		return d.decodeAppend(data, eventID, audio, audioOK)
	}
	if d.Limits.MaxEventBytes > 0 && len(data) > d.Limits.MaxEventBytes {
		return fail(Invalid(CodeEventTooLarge, "", "The event is %d bytes; the limit is %d (appends may carry more).", len(data), d.Limits.MaxEventBytes))
	}
	ev, err := d.decodeOther(string(typ), data, Base{EventID: eventID})
	if err != nil {
		return fail(err)
	}
	return ev, nil
}

// stringValue returns the contents of the JSON string raw, unescaped, or
// false if raw is not a string.
func stringValue(raw []byte) ([]byte, bool) {
	if len(raw) < 2 || raw[0] != '"' {
		return nil, false
	}
	body := raw[1 : len(raw)-1]
	for _, c := range body {
		if c == '\\' {
			var s string
			json.Unmarshal(raw, &s) // valid JSON: cannot fail
			return []byte(s), true
		}
	}
	return body, true
}

func (d *Decoder) decodeAppend(data []byte, eventID string, audio []byte, audioOK bool) (ClientEvent, error) {
	fail := func(e *Error) (ClientEvent, error) { return nil, e.For(eventID) }
	if n := decodedLen(audio); d.Limits.MaxAudioBytes > 0 && n > d.Limits.MaxAudioBytes {
		return fail(Invalid(CodeEventTooLarge, "audio", "The append holds %d bytes of audio; the limit is %d per append.", n, d.Limits.MaxAudioBytes))
	}
	var unknown string
	fields(data, func(k, _ []byte) {
		switch string(k) {
		case "type", "event_id", "audio":
		default:
			if unknown == "" {
				unknown = string(k)
			}
		}
	})
	switch {
	case unknown != "":
		return fail(Invalid(CodeUnknownParameter, clip(unknown), "Unknown parameter: '%s'.", clip(unknown)))
	case !audioOK:
		return fail(Invalid(CodeInvalidType, "audio", "Invalid type for 'audio': expected a base64 string."))
	case audio == nil:
		return fail(Invalid(CodeMissingParameter, "audio", "Missing required parameter: 'audio'."))
	}
	enc := base64.StdEncoding
	if len(audio)%4 != 0 {
		enc = base64.RawStdEncoding
	}
	need := enc.DecodedLen(len(audio))
	if cap(d.audio) < need {
		d.audio = make([]byte, need)
	}
	n, err := enc.Decode(d.audio[:need], audio)
	if err != nil {
		return fail(Invalid(CodeInvalidAudio, "audio", "'audio' is not valid base64."))
	}
	d.append = AppendEvent{Base: Base{EventID: eventID}, Audio: d.audio[:n]}
	return &d.append, nil
}

// decodedLen returns how many bytes the base64 text b decodes to (if it
// is valid base64).
func decodedLen(b []byte) int {
	n := len(b) / 4 * 3
	switch {
	case len(b)%4 != 0:
		return n + len(b)%4*3/4
	case len(b) >= 2 && b[len(b)-2] == '=':
		return n - 2
	case len(b) >= 1 && b[len(b)-1] == '=':
		return n - 1
	}
	return n
}

// Base64Len returns the length of n bytes in padded base64: the most an
// append of n bytes of audio takes in its message.
func Base64Len(n int) int { return base64.StdEncoding.EncodedLen(n) }

// The other events, as they arrive.
type (
	sessionUpdateIn struct {
		Type    string          `json:"type"`
		EventID string          `json:"event_id"`
		Session json.RawMessage `json:"session"`
	}
	bareIn struct {
		Type    string `json:"type"`
		EventID string `json:"event_id"`
	}
	itemCreateIn struct {
		Type           string          `json:"type"`
		EventID        string          `json:"event_id"`
		PreviousItemID *string         `json:"previous_item_id"`
		Item           json.RawMessage `json:"item"`
	}
	itemRefIn struct {
		Type    string  `json:"type"`
		EventID string  `json:"event_id"`
		ItemID  *string `json:"item_id"`
	}
	truncateIn struct {
		Type         string  `json:"type"`
		EventID      string  `json:"event_id"`
		ItemID       *string `json:"item_id"`
		ContentIndex *int    `json:"content_index"`
		AudioEndMS   *int    `json:"audio_end_ms"`
	}
	responseCreateIn struct {
		Type     string          `json:"type"`
		EventID  string          `json:"event_id"`
		Response json.RawMessage `json:"response"`
	}
	responseCancelIn struct {
		Type       string  `json:"type"`
		EventID    string  `json:"event_id"`
		ResponseID *string `json:"response_id"`
	}
)

func (d *Decoder) decodeOther(typ string, data []byte, base Base) (ClientEvent, *Error) {
	switch typ {
	case TypeSessionUpdate:
		var in sessionUpdateIn
		if err := strictUnmarshal(data, &in, ""); err != nil {
			return nil, err
		}
		u, err := parseSessionUpdate(in.Session, d.Dialect, d.TurnDefaults)
		if err != nil {
			return nil, err
		}
		return &SessionUpdateEvent{Base: base, Session: u}, nil
	case TypeCommit, TypeClear:
		var in bareIn
		if err := strictUnmarshal(data, &in, ""); err != nil {
			return nil, err
		}
		if typ == TypeCommit {
			return &CommitEvent{Base: base}, nil
		}
		return &ClearEvent{Base: base}, nil
	case TypeItemCreate:
		var in itemCreateIn
		if err := strictUnmarshal(data, &in, ""); err != nil {
			return nil, err
		}
		if p := in.PreviousItemID; p != nil && !validID(*p) {
			return nil, Invalid(CodeInvalidValue, "previous_item_id", "'previous_item_id' must be 1 to %d printable ASCII characters.", maxIDBytes)
		}
		it, err := parseItem(in.Item, d.Dialect, d.Limits.MaxTextBytes)
		if err != nil {
			return nil, err
		}
		return &ItemCreateEvent{Base: base, PreviousItemID: in.PreviousItemID, Item: it}, nil
	case TypeItemRetrieve, TypeItemDelete:
		var in itemRefIn
		if err := strictUnmarshal(data, &in, ""); err != nil {
			return nil, err
		}
		id, err := requireID(in.ItemID, "item_id")
		if err != nil {
			return nil, err
		}
		if typ == TypeItemRetrieve {
			return &ItemRetrieveEvent{Base: base, ItemID: id}, nil
		}
		return &ItemDeleteEvent{Base: base, ItemID: id}, nil
	case TypeItemTruncate:
		var in truncateIn
		if err := strictUnmarshal(data, &in, ""); err != nil {
			return nil, err
		}
		id, err := requireID(in.ItemID, "item_id")
		if err != nil {
			return nil, err
		}
		switch {
		case in.ContentIndex == nil:
			return nil, Invalid(CodeMissingParameter, "content_index", "Missing required parameter: 'content_index'.")
		case *in.ContentIndex < 0:
			return nil, Invalid(CodeInvalidValue, "content_index", "'content_index' cannot be negative.")
		case in.AudioEndMS == nil:
			return nil, Invalid(CodeMissingParameter, "audio_end_ms", "Missing required parameter: 'audio_end_ms'.")
		case *in.AudioEndMS < 0:
			return nil, Invalid(CodeInvalidValue, "audio_end_ms", "'audio_end_ms' cannot be negative.")
		}
		return &ItemTruncateEvent{Base: base, ItemID: id, ContentIndex: *in.ContentIndex, AudioEndMS: *in.AudioEndMS}, nil
	case TypeResponseCreate:
		var in responseCreateIn
		if err := strictUnmarshal(data, &in, ""); err != nil {
			return nil, err
		}
		p, err := parseResponseParams(in.Response, d.Dialect)
		if err != nil {
			return nil, err
		}
		return &ResponseCreateEvent{Base: base, Response: p}, nil
	case TypeResponseCancel:
		var in responseCancelIn
		if err := strictUnmarshal(data, &in, ""); err != nil {
			return nil, err
		}
		ev := &ResponseCancelEvent{Base: base}
		if in.ResponseID != nil {
			if !validID(*in.ResponseID) {
				return nil, Invalid(CodeInvalidValue, "response_id", "'response_id' must be 1 to %d printable ASCII characters.", maxIDBytes)
			}
			ev.ResponseID = *in.ResponseID
		}
		return ev, nil
	case TypeOutputAudioClear:
		return nil, Invalid(CodeUnsupported, "type", "output_audio_buffer.clear is for WebRTC and SIP; over a WebSocket the client holds the audio it plays, so it stops playback itself.")
	case TypeTranscriptionUpdate:
		return nil, Invalid(CodeUnsupported, "type", "Transcription sessions are not offered here.")
	}
	return nil, Invalid(CodeUnknownEvent, "type", "Invalid value: '%s'. Supported values are: 'session.update', 'input_audio_buffer.append', 'input_audio_buffer.commit', 'input_audio_buffer.clear', 'conversation.item.create', 'conversation.item.retrieve', 'conversation.item.truncate', 'conversation.item.delete', 'response.create', and 'response.cancel'.", clip(typ))
}

func requireID(id *string, param string) (string, *Error) {
	if id == nil {
		return "", Invalid(CodeMissingParameter, param, "Missing required parameter: '%s'.", param)
	}
	if !validID(*id) {
		return "", Invalid(CodeInvalidValue, param, "'%s' must be 1 to %d printable ASCII characters.", param, maxIDBytes)
	}
	return *id, nil
}

// Release gives back the buffer of a large append once it has been used,
// so that an idle connection does not keep it.
func (d *Decoder) Release() {
	if cap(d.audio) > shrinkAbove {
		d.audio, d.append = nil, AppendEvent{}
	}
}
