package realtime

import (
	"encoding/base64"
	"encoding/json"
	"strconv"
	"sync/atomic"
	"unicode/utf8"
)

// Events makes one connection's server events in its dialect, each with
// an event_id of its own. Its methods are safe for concurrent use. A
// method returns nil for an event the dialect does not have (GA's
// conversation.item.done, the beta's conversation.created): nothing is to
// be sent.
type Events struct {
	dialect Dialect
	prefix  string
	seq     atomic.Uint64
}

// NewEvents returns the events of a connection speaking d; prefix makes
// its event_ids unlike other connections' ("event_<prefix><n>").
func NewEvents(d Dialect, prefix string) *Events {
	return &Events{dialect: d, prefix: "event_" + prefix}
}

// Dialect returns the dialect the events are made in.
func (e *Events) Dialect() Dialect { return e.dialect }

// EventID returns a new event_id.
func (e *Events) EventID() string {
	return e.prefix + strconv.FormatUint(e.seq.Add(1), 36)
}

// Header is what every server event has.
type Header struct {
	Type    string `json:"type"`
	EventID string `json:"event_id"`
}

func (e *Events) header(ga string) (Header, bool) {
	name := e.dialect.Name(ga)
	return Header{Type: name, EventID: e.EventID()}, name != ""
}

// Ref places a delta: the response, its output item, and the content part.
type Ref struct {
	ResponseID   string `json:"response_id"`
	ItemID       string `json:"item_id"`
	OutputIndex  int    `json:"output_index"`
	ContentIndex int    `json:"content_index"`
}

// ErrorEvent is "error".
type ErrorEvent struct {
	Header
	Error *Error `json:"error"`
}

// Error returns the error event for err.
func (e *Events) Error(err *Error) *ErrorEvent {
	h, _ := e.header(EventError)
	return &ErrorEvent{Header: h, Error: err}
}

// SessionEvent is session.created and session.updated.
type SessionEvent struct {
	Header
	Session any `json:"session"`
}

// SessionCreated returns session.created for s.
func (e *Events) SessionCreated(s *Session) *SessionEvent {
	h, _ := e.header(EventSessionCreated)
	return &SessionEvent{Header: h, Session: s.encode(e.dialect)}
}

// SessionUpdated returns session.updated for s: the whole effective
// configuration.
func (e *Events) SessionUpdated(s *Session) *SessionEvent {
	h, _ := e.header(EventSessionUpdated)
	return &SessionEvent{Header: h, Session: s.encode(e.dialect)}
}

// ConversationEvent is the beta's conversation.created.
type ConversationEvent struct {
	Header
	Conversation struct {
		ID     string `json:"id"`
		Object string `json:"object"`
	} `json:"conversation"`
}

// ConversationCreated returns conversation.created (beta only).
func (e *Events) ConversationCreated(id string) *ConversationEvent {
	h, ok := e.header(EventConversationCreated)
	if !ok {
		return nil
	}
	ev := &ConversationEvent{Header: h}
	ev.Conversation.ID, ev.Conversation.Object = id, "realtime.conversation"
	return ev
}

// SpeechEvent is input_audio_buffer.speech_started and speech_stopped.
type SpeechEvent struct {
	Header
	ItemID       string `json:"item_id"`
	AudioStartMS *int64 `json:"audio_start_ms,omitempty"`
	AudioEndMS   *int64 `json:"audio_end_ms,omitempty"`
}

// SpeechStarted returns input_audio_buffer.speech_started: speech began
// at ms of the input stream, into item.
func (e *Events) SpeechStarted(item string, ms int64) *SpeechEvent {
	h, _ := e.header(EventSpeechStarted)
	return &SpeechEvent{Header: h, ItemID: item, AudioStartMS: &ms}
}

// SpeechStopped returns input_audio_buffer.speech_stopped.
func (e *Events) SpeechStopped(item string, ms int64) *SpeechEvent {
	h, _ := e.header(EventSpeechStopped)
	return &SpeechEvent{Header: h, ItemID: item, AudioEndMS: &ms}
}

// CommittedEvent is input_audio_buffer.committed.
type CommittedEvent struct {
	Header
	PreviousItemID *string `json:"previous_item_id"`
	ItemID         string  `json:"item_id"`
}

// Committed returns input_audio_buffer.committed: the buffer became item,
// placed after prev ("" for the first).
func (e *Events) Committed(item, prev string) *CommittedEvent {
	h, _ := e.header(EventCommitted)
	return &CommittedEvent{Header: h, ItemID: item, PreviousItemID: optional(prev)}
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// Cleared returns input_audio_buffer.cleared.
func (e *Events) Cleared() *Header {
	h, _ := e.header(EventCleared)
	return &h
}

// ItemEvent is conversation.item.added, .done (GA), .created (beta) and
// .retrieved.
type ItemEvent struct {
	Header
	// PreviousItemID places the item: null for the first, left out of
	// conversation.item.retrieved.
	PreviousItemID json.RawMessage `json:"previous_item_id,omitempty"`
	Item           itemJSON        `json:"item"`
}

// ItemAdded returns conversation.item.added (beta: conversation.item.created).
func (e *Events) ItemAdded(it Item, prev string) *ItemEvent {
	return e.itemEvent(EventItemAdded, it, prev)
}

// ItemDone returns conversation.item.done, or nil in the beta.
func (e *Events) ItemDone(it Item, prev string) *ItemEvent {
	return e.itemEvent(EventItemDone, it, prev)
}

// ItemRetrieved returns conversation.item.retrieved.
func (e *Events) ItemRetrieved(it Item) *ItemEvent {
	return e.itemEvent(EventItemRetrieved, it, "")
}

func (e *Events) itemEvent(ga string, it Item, prev string) *ItemEvent {
	h, ok := e.header(ga)
	if !ok {
		return nil
	}
	ev := &ItemEvent{Header: h, Item: it.encode(e.dialect)}
	if ga != EventItemRetrieved {
		ev.PreviousItemID = jsonNull
		if prev != "" {
			ev.PreviousItemID = appendString(nil, prev)
		}
	}
	return ev
}

// ItemIDEvent is conversation.item.deleted.
type ItemIDEvent struct {
	Header
	ItemID string `json:"item_id"`
}

// ItemDeleted returns conversation.item.deleted.
func (e *Events) ItemDeleted(item string) *ItemIDEvent {
	h, _ := e.header(EventItemDeleted)
	return &ItemIDEvent{Header: h, ItemID: item}
}

// TruncatedEvent is conversation.item.truncated.
type TruncatedEvent struct {
	Header
	ItemID       string `json:"item_id"`
	ContentIndex int    `json:"content_index"`
	AudioEndMS   int    `json:"audio_end_ms"`
}

// ItemTruncated returns conversation.item.truncated.
func (e *Events) ItemTruncated(item string, content, audioEndMS int) *TruncatedEvent {
	h, _ := e.header(EventItemTruncated)
	return &TruncatedEvent{Header: h, ItemID: item, ContentIndex: content, AudioEndMS: audioEndMS}
}

// TranscriptionEvent is conversation.item.input_audio_transcription.delta,
// .completed and .failed.
type TranscriptionEvent struct {
	Header
	ItemID       string              `json:"item_id"`
	ContentIndex int                 `json:"content_index"`
	Delta        *string             `json:"delta,omitempty"`
	Transcript   *string             `json:"transcript,omitempty"`
	Usage        *transcriptionUsage `json:"usage,omitempty"`
	Error        *Error              `json:"error,omitempty"`
}

type transcriptionUsage struct {
	Type    string  `json:"type"`
	Seconds float64 `json:"seconds"`
}

// TranscriptionDelta returns a transcription delta of item.
func (e *Events) TranscriptionDelta(item, delta string) *TranscriptionEvent {
	h, _ := e.header(EventTranscriptionDelta)
	return &TranscriptionEvent{Header: h, ItemID: item, Delta: &delta}
}

// TranscriptionCompleted returns the transcript of item, which took
// seconds of audio.
func (e *Events) TranscriptionCompleted(item, transcript string, seconds float64) *TranscriptionEvent {
	h, _ := e.header(EventTranscriptionCompleted)
	return &TranscriptionEvent{Header: h, ItemID: item, Transcript: &transcript, Usage: &transcriptionUsage{Type: "duration", Seconds: seconds}}
}

// TranscriptionFailed returns the failure of item's transcription.
func (e *Events) TranscriptionFailed(item string, err *Error) *TranscriptionEvent {
	h, _ := e.header(EventTranscriptionFailed)
	return &TranscriptionEvent{Header: h, ItemID: item, Error: err}
}

// Response is a response object, as response.created and response.done
// carry it.
type Response struct {
	ID             string
	ConversationID string
	Status         string // in_progress, completed, cancelled, failed, incomplete
	StatusDetails  *StatusDetails
	Output         []Item
	Usage          *Usage
	Audio          bool
	OutputFormat   Format
	Voice          string
	Metadata       map[string]string
}

// StatusDetails says why a response ended as it did.
type StatusDetails struct {
	Type   string `json:"type"`             // completed, cancelled, failed, incomplete
	Reason string `json:"reason,omitempty"` // cancelled: turn_detected or client_cancelled
	Error  *Error `json:"error,omitempty"`  // failed
}

// Usage is what a response cost. voicegate counts no tokens (its stages
// are not metered in tokens), so the token counts are 0; what it does
// count is under "voicegate": seconds of audio and bytes of text, in and
// out.
type Usage struct {
	InputAudioSeconds  float64 `json:"input_audio_seconds"`
	OutputAudioSeconds float64 `json:"output_audio_seconds"`
	InputTextBytes     int     `json:"input_text_bytes"`
	OutputTextBytes    int     `json:"output_text_bytes"`
}

type usageJSON struct {
	TotalTokens  int `json:"total_tokens"`
	InputTokens  int `json:"input_tokens"`
	OutputTokens int `json:"output_tokens"`
	InputDetails struct {
		TextTokens   int `json:"text_tokens"`
		AudioTokens  int `json:"audio_tokens"`
		CachedTokens int `json:"cached_tokens"`
	} `json:"input_token_details"`
	OutputDetails struct {
		TextTokens  int `json:"text_tokens"`
		AudioTokens int `json:"audio_tokens"`
	} `json:"output_token_details"`
	Voicegate *Usage `json:"voicegate"`
}

type responseJSON struct {
	Object          string            `json:"object"`
	ID              string            `json:"id"`
	Status          string            `json:"status"`
	StatusDetails   *StatusDetails    `json:"status_details"`
	Output          []itemJSON        `json:"output"`
	ConversationID  string            `json:"conversation_id"`
	Modalities      []string          `json:"modalities,omitempty"`        // beta
	OutputModal     []string          `json:"output_modalities,omitempty"` // GA
	OutputFormat    string            `json:"output_audio_format,omitempty"`
	Voice           string            `json:"voice,omitempty"`
	Audio           *responseAudio    `json:"audio,omitempty"`
	MaxOutputTokens string            `json:"max_output_tokens"`
	Usage           *usageJSON        `json:"usage"`
	Metadata        map[string]string `json:"metadata"`
}

type responseAudio struct {
	Output struct {
		Format gaFormat `json:"format"`
		Voice  string   `json:"voice"`
	} `json:"output"`
}

func (r *Response) encode(d Dialect) *responseJSON {
	j := &responseJSON{
		Object: "realtime.response", ID: r.ID, Status: r.Status, StatusDetails: r.StatusDetails,
		Output: make([]itemJSON, 0, len(r.Output)), ConversationID: r.ConversationID, MaxOutputTokens: "inf", Metadata: r.Metadata,
	}
	for _, it := range r.Output {
		j.Output = append(j.Output, it.encode(d))
	}
	if d == Beta {
		j.Modalities, j.OutputFormat, j.Voice = modalities(r.Audio, d), r.OutputFormat.BetaName(), r.Voice
	} else {
		j.OutputModal = modalities(r.Audio, d)
		j.Audio = &responseAudio{}
		j.Audio.Output.Format, j.Audio.Output.Voice = r.OutputFormat.ga(), r.Voice
	}
	if r.Usage != nil {
		j.Usage = &usageJSON{Voicegate: r.Usage}
	}
	return j
}

// ResponseEvent is response.created and response.done.
type ResponseEvent struct {
	Header
	Response *responseJSON `json:"response"`
}

// ResponseCreated returns response.created for r.
func (e *Events) ResponseCreated(r *Response) *ResponseEvent {
	h, _ := e.header(EventResponseCreated)
	return &ResponseEvent{Header: h, Response: r.encode(e.dialect)}
}

// ResponseDone returns response.done for r.
func (e *Events) ResponseDone(r *Response) *ResponseEvent {
	h, _ := e.header(EventResponseDone)
	return &ResponseEvent{Header: h, Response: r.encode(e.dialect)}
}

// OutputItemEvent is response.output_item.added and .done.
type OutputItemEvent struct {
	Header
	ResponseID  string   `json:"response_id"`
	OutputIndex int      `json:"output_index"`
	Item        itemJSON `json:"item"`
}

// OutputItemAdded returns response.output_item.added.
func (e *Events) OutputItemAdded(response string, index int, it Item) *OutputItemEvent {
	h, _ := e.header(EventOutputItemAdded)
	return &OutputItemEvent{Header: h, ResponseID: response, OutputIndex: index, Item: it.encode(e.dialect)}
}

// OutputItemDone returns response.output_item.done.
func (e *Events) OutputItemDone(response string, index int, it Item) *OutputItemEvent {
	h, _ := e.header(EventOutputItemDone)
	return &OutputItemEvent{Header: h, ResponseID: response, OutputIndex: index, Item: it.encode(e.dialect)}
}

// ContentPartEvent is response.content_part.added and .done.
type ContentPartEvent struct {
	Header
	Ref
	Part partJSON `json:"part"`
}

type partJSON struct {
	Type       string  `json:"type"`
	Text       *string `json:"text,omitempty"`
	Transcript *string `json:"transcript,omitempty"`
}

// The part types of response.content_part.*: both dialects call them
// "text" and "audio".
func part(audio bool, text string) partJSON {
	if audio {
		return partJSON{Type: "audio", Transcript: &text}
	}
	return partJSON{Type: "text", Text: &text}
}

// ContentPartAdded returns response.content_part.added for an audio part
// (with its transcript) or a text part.
func (e *Events) ContentPartAdded(ref Ref, audio bool, text string) *ContentPartEvent {
	h, _ := e.header(EventContentPartAdded)
	return &ContentPartEvent{Header: h, Ref: ref, Part: part(audio, text)}
}

// ContentPartDone returns response.content_part.done.
func (e *Events) ContentPartDone(ref Ref, audio bool, text string) *ContentPartEvent {
	h, _ := e.header(EventContentPartDone)
	return &ContentPartEvent{Header: h, Ref: ref, Part: part(audio, text)}
}

// DeltaEvent is a text or transcript delta, and the .done events that
// carry the whole text.
type DeltaEvent struct {
	Header
	Ref
	Delta      *string `json:"delta,omitempty"`
	Text       *string `json:"text,omitempty"`
	Transcript *string `json:"transcript,omitempty"`
}

// TranscriptDelta returns response.output_audio_transcript.delta.
func (e *Events) TranscriptDelta(ref Ref, delta string) *DeltaEvent {
	h, _ := e.header(EventAudioTranscriptDelta)
	return &DeltaEvent{Header: h, Ref: ref, Delta: &delta}
}

// TranscriptDone returns response.output_audio_transcript.done.
func (e *Events) TranscriptDone(ref Ref, transcript string) *DeltaEvent {
	h, _ := e.header(EventAudioTranscriptDone)
	return &DeltaEvent{Header: h, Ref: ref, Transcript: &transcript}
}

// TextDelta returns response.output_text.delta.
func (e *Events) TextDelta(ref Ref, delta string) *DeltaEvent {
	h, _ := e.header(EventTextDelta)
	return &DeltaEvent{Header: h, Ref: ref, Delta: &delta}
}

// TextDone returns response.output_text.done.
func (e *Events) TextDone(ref Ref, text string) *DeltaEvent {
	h, _ := e.header(EventTextDone)
	return &DeltaEvent{Header: h, Ref: ref, Text: &text}
}

// AudioDone returns response.output_audio.done.
func (e *Events) AudioDone(ref Ref) *DeltaEvent {
	h, _ := e.header(EventAudioDone)
	return &DeltaEvent{Header: h, Ref: ref}
}

// AppendAudioDelta appends response.output_audio.delta with audio (in the
// session's output format, base64-encoded here) to dst and returns it. It
// allocates nothing when dst has room: it is the per-chunk path.
func (e *Events) AppendAudioDelta(dst []byte, ref Ref, audio []byte) []byte {
	dst = append(dst, `{"type":"`...)
	dst = append(dst, e.dialect.Name(EventAudioDelta)...)
	dst = append(dst, `","event_id":"`...)
	dst = append(dst, e.prefix...)
	dst = strconv.AppendUint(dst, e.seq.Add(1), 36)
	dst = append(dst, `","response_id":`...)
	dst = appendString(dst, ref.ResponseID)
	dst = append(dst, `,"item_id":`...)
	dst = appendString(dst, ref.ItemID)
	dst = append(dst, `,"output_index":`...)
	dst = strconv.AppendInt(dst, int64(ref.OutputIndex), 10)
	dst = append(dst, `,"content_index":`...)
	dst = strconv.AppendInt(dst, int64(ref.ContentIndex), 10)
	dst = append(dst, `,"delta":"`...)
	dst = base64.StdEncoding.AppendEncode(dst, audio)
	return append(dst, `"}`...)
}

// appendString appends s as a JSON string.
func appendString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			dst = append(dst, '\\', c)
		case c < 0x20:
			dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		case c < utf8.RuneSelf:
			dst = append(dst, c)
		default:
			r, n := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && n == 1 {
				dst = append(dst, `\ufffd`...)
			} else {
				dst = append(dst, s[i:i+n]...)
			}
			i += n
			continue
		}
		i++
	}
	return append(dst, '"')
}

// FunctionArgumentsEvent is response.function_call_arguments.delta and
// .done.
type FunctionArgumentsEvent struct {
	Header
	ResponseID  string  `json:"response_id"`
	ItemID      string  `json:"item_id"`
	OutputIndex int     `json:"output_index"`
	CallID      string  `json:"call_id"`
	Delta       *string `json:"delta,omitempty"`
	Name        string  `json:"name,omitempty"`
	Arguments   *string `json:"arguments,omitempty"`
}

// FunctionArgumentsDelta returns response.function_call_arguments.delta.
func (e *Events) FunctionArgumentsDelta(response, item string, index int, call, delta string) *FunctionArgumentsEvent {
	h, _ := e.header(EventFunctionArgumentsDelta)
	return &FunctionArgumentsEvent{Header: h, ResponseID: response, ItemID: item, OutputIndex: index, CallID: call, Delta: &delta}
}

// FunctionArgumentsDone returns response.function_call_arguments.done.
func (e *Events) FunctionArgumentsDone(response, item string, index int, call, name, args string) *FunctionArgumentsEvent {
	h, _ := e.header(EventFunctionArgumentsDone)
	return &FunctionArgumentsEvent{Header: h, ResponseID: response, ItemID: item, OutputIndex: index, CallID: call, Name: name, Arguments: &args}
}

// RateLimit is one entry of rate_limits.updated.
type RateLimit struct {
	Name         string  `json:"name"` // "requests" or "tokens", the only names clients accept
	Limit        int     `json:"limit"`
	Remaining    int     `json:"remaining"`
	ResetSeconds float64 `json:"reset_seconds"`
}

// RateLimitsEvent is rate_limits.updated.
type RateLimitsEvent struct {
	Header
	RateLimits []RateLimit `json:"rate_limits"`
}

// RateLimitsUpdated returns rate_limits.updated.
func (e *Events) RateLimitsUpdated(limits []RateLimit) *RateLimitsEvent {
	h, _ := e.header(EventRateLimitsUpdated)
	return &RateLimitsEvent{Header: h, RateLimits: limits}
}

// ResumableEvent is voicegate's extension voicegate.session.resumable:
// how a client that loses its connection gets the session back.
type ResumableEvent struct {
	Header
	SessionID      string `json:"session_id"`
	ResumeToken    string `json:"resume_token"`
	ResumeWindowMS int64  `json:"resume_window_ms"`
	Resumed        bool   `json:"resumed"`
}

// Resumable returns voicegate.session.resumable.
func (e *Events) Resumable(session, token string, windowMS int64, resumed bool) *ResumableEvent {
	h, _ := e.header(EventVoicegateResumable)
	return &ResumableEvent{Header: h, SessionID: session, ResumeToken: token, ResumeWindowMS: windowMS, Resumed: resumed}
}
