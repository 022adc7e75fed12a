package pipeline

import (
	"context"

	"github.com/voicegate/voicegate/audio"
)

// Recognizer is the speech recognition (ASR) stage. It is consumed by the
// session runner, which starts one Utterance per detected stretch of speech.
//
// Audio handed to a Recognizer is always audio.Mono16k: the session resamples
// the client's audio before it gets here.
//
// Start may be called concurrently from many sessions; an Utterance is used by
// one goroutine at a time.
type Recognizer interface {
	Start(ctx context.Context) (Utterance, error)
}

// Utterance recognises one stretch of speech.
type Utterance interface {
	// Write feeds 16 kHz mono samples. Implementations must not retain
	// samples after Write returns. It returns the current partial
	// hypothesis, or "" when the recogniser has none to offer yet (batch
	// recognisers always return "").
	Write(samples []int16) (partial string, err error)
	// Finish ends the utterance and returns the final transcript, which may
	// be empty when nothing was recognised. ctx bounds any provider call.
	Finish(ctx context.Context) (string, error)
	// Close releases the utterance's resources. It must be idempotent and is
	// always called, also after Finish.
	Close() error
}

// RecognizerFunc adapts a function to Recognizer.
type RecognizerFunc func(ctx context.Context) (Utterance, error)

// Start calls f(ctx).
func (f RecognizerFunc) Start(ctx context.Context) (Utterance, error) { return f(ctx) }

// Role is the author of a Message.
type Role string

// Roles of a conversation, as chat-completion APIs name them.
const (
	RoleSystem    Role = "system"
	RoleUser      Role = "user"
	RoleAssistant Role = "assistant"
	RoleTool      Role = "tool" // a tool's result (ToolCallID names the call)
)

// Message is one entry of a conversation.
type Message struct {
	// ID names the message within its Conversation (Append assigns one
	// when it is empty), so that a client can refer to it.
	ID      string `json:"id,omitempty"`
	Role    Role   `json:"role"`
	Content string `json:"content"`
	// ToolCalls are the tools an assistant message asked to run.
	ToolCalls []ToolCall `json:"tool_calls,omitempty"`
	// ToolCallID is the call a RoleTool message answers.
	ToolCallID string `json:"tool_call_id,omitempty"`
}

// Generator is the language model (LLM) stage.
//
// Generate streams a reply to msgs, the system prompt first and the user's
// newest words last. It calls emit from its own goroutine, in order, with each
// piece of text as it arrives; a delta is whole UTF-8 (never a split rune).
// If emit returns an error, Generate stops and returns that error. Generate
// must return promptly once ctx is done. It must not retain or modify msgs.
type Generator interface {
	Generate(ctx context.Context, msgs []Message, emit func(delta string) error) error
}

// GeneratorFunc adapts a function to Generator.
type GeneratorFunc func(ctx context.Context, msgs []Message, emit func(delta string) error) error

// Generate calls f(ctx, msgs, emit).
func (f GeneratorFunc) Generate(ctx context.Context, msgs []Message, emit func(string) error) error {
	return f(ctx, msgs, emit)
}

// Synthesizer is the speech synthesis (TTS) stage.
//
// Synthesize speaks text and calls emit with audio in Format() as soon as it
// is made, in order, from the calling goroutine. emit must not retain pcm;
// the synthesizer may reuse the buffer after emit returns. If emit returns an
// error, Synthesize stops and returns it. Synthesize must return promptly
// once ctx is done. Synthesize may be called concurrently.
type Synthesizer interface {
	Format() audio.Format
	Synthesize(ctx context.Context, text string, emit func(pcm []int16) error) error
}

// Voiced is a Synthesizer that speaks in more than one voice.
type Voiced interface {
	// WithVoice returns a Synthesizer like this one that speaks in voice,
	// or an error that says which voices there are.
	WithVoice(voice string) (Synthesizer, error)
}

// Stages is one session's set of providers. Each names itself to the
// client, in metrics and in errors (NameOf).
type Stages struct {
	ASR Recognizer
	LLM Generator
	TTS Synthesizer
	VAD VoiceActivity // nil: the energy detector
}
