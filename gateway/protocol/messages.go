package protocol

import "encoding/json"

// Version is the protocol version this package speaks.
const Version = 1

// Client → server message types.
const (
	TypeSessionStart = "session.start"
	TypeInputText    = "input.text"
	TypeInterrupt    = "interrupt"
	TypePing         = "ping"
	TypeToolsSet     = "tools.set"
	TypeToolResult   = "tool.result"
)

// Server → client message types.
const (
	TypeSessionStarted    = "session.started"
	TypeSpeechStarted     = "speech.started"
	TypeSpeechStopped     = "speech.stopped"
	TypeTranscriptPartial = "transcript.partial"
	TypeTranscriptFinal   = "transcript.final"
	TypeTextDelta         = "response.text.delta"
	TypeAudioStart        = "response.audio.start"
	TypeAudioDone         = "response.audio.done"
	TypeResponseDone      = "response.done"
	TypeResponseCancelled = "response.cancelled"
	TypeResponsePaused    = "response.paused"
	TypeResponseResumed   = "response.resumed"
	TypeTurnLatency       = "turn.latency"
	TypeToolCall          = "tool.call"
	TypeToolDone          = "tool.done"
	TypePong              = "pong"
	TypeError             = "error"
)

// AudioFormat declares PCM16LE mono audio at SampleRate.
type AudioFormat struct {
	SampleRate int `json:"sample_rate"`
}

// SessionStart opens a session. It must be the first message on a
// connection; audio sent before it is an error.
type SessionStart struct {
	Type        string       `json:"type"`
	Version     int          `json:"version,omitempty"`      // 0 means Version
	InputAudio  *AudioFormat `json:"input_audio,omitempty"`  // default 16000 Hz
	OutputAudio *AudioFormat `json:"output_audio,omitempty"` // default: the server's configured output rate
	TextOnly    bool         `json:"text_only,omitempty"`    // replies as text only, no audio
	ResumeToken string       `json:"resume_token,omitempty"` // resume an earlier session
	// Language is the language the user speaks and is answered in, a
	// BCP 47 tag ("en", "zh", "zh-CN"); it picks the server's providers
	// and prompt for it. "" means the server's default. A resumed session
	// keeps its own.
	Language string `json:"language,omitempty"`
	// Tools are the client's tools, which the model may call (ToolCall);
	// at most MaxTools. On a resume, tools given (an empty list too)
	// replace the session's, and none (nil) keeps them.
	Tools []Tool `json:"tools,omitzero"`
}

// MaxTools caps the tools a client defines for its session.
const MaxTools = 32

// Tool is a function the client offers the model. The client runs it when
// the model asks (ToolCall) and answers with a ToolResult.
type Tool struct {
	// Name is what the model calls it by: 1 to 64 letters, digits, '_'
	// and '-', unique in the session.
	Name        string `json:"name"`
	Description string `json:"description,omitempty"` // for the model: what it does, when to use it
	// Parameters is the JSON Schema of its arguments, a JSON object
	// (e.g. {"type":"object","properties":{…}}); none: no arguments.
	Parameters json.RawMessage `json:"parameters,omitempty"`
}

// ToolsSet replaces the session's client tools; an empty list removes
// them. The calls already made of the old tools still take their results.
type ToolsSet struct {
	Type  string `json:"type"`
	Tools []Tool `json:"tools"`
}

// ToolResult is the output of a tool the model called (ToolCall). When
// every call of a reply has its result, the reply goes on from them.
type ToolResult struct {
	Type   string `json:"type"`
	CallID string `json:"call_id"`
	Output string `json:"output"` // what the model reads, usually JSON or a sentence
}

// InputText is a typed user turn, an alternative to speaking.
type InputText struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

// Interrupt cancels the reply in progress, as a barge-in would.
type Interrupt struct {
	Type string `json:"type"`
}

// Ping asks for a Pong; the client measures the round trip. Browsers cannot
// send WebSocket pings, so the heartbeat RTT is measured at this level.
type Ping struct {
	Type string `json:"type"`
	ID   string `json:"id,omitempty"`
	// ClientTime is echoed back untouched (e.g. performance.now()).
	ClientTime float64 `json:"client_time,omitempty"`
}

// Providers names the active provider of each stage.
type Providers struct {
	VAD string `json:"vad"`
	ASR string `json:"asr"`
	LLM string `json:"llm"`
	TTS string `json:"tts"`
}

// Limits tells the client what the server will accept.
type Limits struct {
	MaxFrameBytes int `json:"max_frame_bytes"`
	MaxTextBytes  int `json:"max_text_bytes"` // input.text, and a tool.result's output
	MaxTools      int `json:"max_tools"`
}

// SessionStarted answers SessionStart.
type SessionStarted struct {
	Type        string      `json:"type"`
	Version     int         `json:"version"`
	SessionID   string      `json:"session_id"`
	ResumeToken string      `json:"resume_token"`
	Resumed     bool        `json:"resumed"`
	InputAudio  AudioFormat `json:"input_audio"`
	OutputAudio AudioFormat `json:"output_audio"`
	TextOnly    bool        `json:"text_only"`
	// Language is the session's language as the server configures it
	// ("zh" for a request of "zh-CN").
	Language  string    `json:"language"`
	Providers Providers `json:"providers"`
	Limits    Limits    `json:"limits"`
	// HeartbeatMS is how often the server pings; a client that sends app
	// pings should do so about as often.
	HeartbeatMS int64 `json:"heartbeat_ms"`
	// ResumeWindowMS is how long after a dropped socket the session can be
	// resumed with ResumeToken.
	ResumeWindowMS int64 `json:"resume_window_ms"`
	// History is the conversation so far, sent on resume so the client can
	// redraw it.
	History []HistoryEntry `json:"history,omitempty"`
}

// HistoryEntry is one message of the conversation.
type HistoryEntry struct {
	Role string `json:"role"` // "user" or "assistant"
	Text string `json:"text"`
}

// Speech reports speech.started and speech.stopped.
type Speech struct {
	Type    string `json:"type"`
	Turn    uint64 `json:"turn"`
	AudioMS int64  `json:"audio_ms"` // position in the input stream
}

// Transcript reports transcript.partial and transcript.final.
type Transcript struct {
	Type string `json:"type"`
	Turn uint64 `json:"turn"`
	Text string `json:"text"`
}

// TextDelta is the next piece of the reply's text.
type TextDelta struct {
	Type  string `json:"type"`
	Turn  uint64 `json:"turn"`
	Delta string `json:"delta"`
}

// AudioStart announces the reply's audio; binary frames follow.
type AudioStart struct {
	Type       string `json:"type"`
	Turn       uint64 `json:"turn"`
	SampleRate int    `json:"sample_rate"`
}

// AudioDone ends the reply's audio.
type AudioDone struct {
	Type string `json:"type"`
	Turn uint64 `json:"turn"`
}

// ResponseDone ends a reply; Text is all of it.
type ResponseDone struct {
	Type string `json:"type"`
	Turn uint64 `json:"turn"`
	Text string `json:"text"`
}

// ResponseCancelled says a reply was cut: the client must stop playback and
// drop any audio it has queued for Turn. Text is the part of the reply that
// was sent before the cut and stays in the conversation.
type ResponseCancelled struct {
	Type   string `json:"type"`
	Turn   uint64 `json:"turn"`
	Reason string `json:"reason"` // "barge_in", "interrupt", "error"
	Text   string `json:"text"`
}

// ResponsePause is response.paused or response.resumed. response.paused:
// the user began speaking over the reply of Turn, which sends no more audio
// until the speech proves a barge-in (speech.started, then
// response.cancelled) or not; the client pauses its playback and keeps
// what it has queued. response.resumed: it was not (a cough, "mm-hm"); the
// client plays on from where it paused, and the reply's audio follows.
type ResponsePause struct {
	Type string `json:"type"`
	Turn uint64 `json:"turn"`
}

// TurnLatency is the latency trace of a turn, in milliseconds from the end of
// the user's speech (or the arrival of typed text). A stage that did not run
// is absent (-1 is never sent).
type TurnLatency struct {
	Type         string   `json:"type"`
	Turn         uint64   `json:"turn"`
	TextInput    bool     `json:"text_input,omitempty"`
	EndpointMS   *float64 `json:"endpoint_ms,omitempty"`
	ASRFinalMS   *float64 `json:"asr_final_ms,omitempty"`
	LLMFirstMS   *float64 `json:"llm_first_token_ms,omitempty"`
	FirstSentMS  *float64 `json:"first_sentence_ms,omitempty"`
	TTSFirstMS   *float64 `json:"tts_first_audio_ms,omitempty"`
	FirstAudioMS *float64 `json:"first_audio_sent_ms,omitempty"`
	ResponseDone bool     `json:"response_done"`
	Cancelled    bool     `json:"cancelled,omitempty"`
	// Providers names the provider that answered each stage the turn ran;
	// with a fallback chain, the member that answered.
	Providers *TurnProviders `json:"providers,omitempty"`
}

// TurnProviders names the providers that answered a turn's stages. A stage
// that did not reach its milestone is absent.
type TurnProviders struct {
	ASR string `json:"asr,omitempty"`
	LLM string `json:"llm,omitempty"`
	TTS string `json:"tts,omitempty"`
}

// ToolCall asks the client to run one of its tools. The reply that asked
// ends (response.done) after its calls; the client answers each with a
// ToolResult.
type ToolCall struct {
	Type      string `json:"type"`
	Turn      uint64 `json:"turn"`
	CallID    string `json:"call_id"`
	Name      string `json:"name"`
	Arguments string `json:"arguments"` // a JSON object as text, as the model wrote it
}

// ToolDone tells that a server-side tool ran during the reply of Turn, and
// what it returned to the model. The client has nothing to do.
type ToolDone struct {
	Type   string `json:"type"`
	Turn   uint64 `json:"turn"`
	CallID string `json:"call_id"`
	Name   string `json:"name"`
	Result string `json:"result"`
}

// Pong answers Ping.
type Pong struct {
	Type         string  `json:"type"`
	ID           string  `json:"id,omitempty"`
	ClientTime   float64 `json:"client_time,omitempty"`
	ServerTimeMS int64   `json:"server_time_ms"`
}

// Error is a typed error event. Fatal errors are followed by a close.
//
// Retryable is the server's advice on trying again. After a fatal error it
// says whether reconnecting (and resuming) can succeed; clients reconnect
// only when it is set. After one that is not fatal it says whether sending
// the same request again can succeed.
type Error struct {
	Type      string `json:"type"`
	Code      Code   `json:"code"`
	Message   string `json:"message"`
	Fatal     bool   `json:"fatal"`
	Retryable bool   `json:"retryable"`
	Turn      uint64 `json:"turn,omitempty"`
	Stage     string `json:"stage,omitempty"` // "asr", "llm", "tts" for provider errors
}

// Ticket answers POST /v1/tickets: a single-use credential for one
// WebSocket upgrade (/ws?ticket=…), valid for ExpiresIn seconds, bound to
// the API key that asked for it.
type Ticket struct {
	Ticket    string `json:"ticket"`
	ExpiresIn int    `json:"expires_in"`
}
