// Package echo is the offline default language model: a pipeline.Generator
// that repeats what it heard — "You said: turn on the lights." — streamed a
// word at a time, the way a model streams tokens. It needs no model, network
// or GPU, so a fresh install holds a whole spoken conversation until a real
// model is configured, and tests get replies they can predict.
//
// It is a pipeline.ToolGenerator with one fixed rule, so that tool rounds can
// be tested end to end: offered tools, it calls the one whose name the user
// said — "what is the weather in Paris" calls get_weather with
// {"city":"paris"} (see Echo.ToolCall for the rule) — saying nothing before
// the call. Given the tool's result, it reads it back: "The get weather tool
// says: Sunny, 22 degrees." Anything else it echoes as without tools.
package echo

import (
	"context"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/voicegate/voicegate/pipeline"
)

// DefaultPrefix starts every reply when Config.Prefix is empty.
const DefaultPrefix = "You said: "

// Config configures an Echo. The zero value works: replies stream as fast
// as emit takes them.
type Config struct {
	// FirstToken delays the first delta, like a model's time to first
	// token. Default 0.
	FirstToken time.Duration `yaml:"first_token"`
	// PerToken delays each delta after the first. Default 0.
	PerToken time.Duration `yaml:"per_token"`
	// Prefix starts every reply that repeats the user. Default
	// DefaultPrefix, "You said: ".
	Prefix string `yaml:"prefix"`
}

// Echo is a pipeline.Generator that answers with the user's last words. It
// keeps no state between calls, so it is safe for concurrent use; the zero
// Echo uses the defaults.
type Echo struct {
	cfg Config
}

var _ pipeline.ToolGenerator = (*Echo)(nil)

// New returns an Echo.
func New(cfg Config) *Echo { return &Echo{cfg: cfg} }

// Name returns "echo".
func (e *Echo) Name() string { return "echo" }

// Reply returns the text Echo answers to msgs in words. When the newest
// messages are tool results (RoleTool), it reads each back: "The get
// weather tool says: " and the result, trimmed, cut to MaxResultBytes and
// ending in punctuation. Otherwise it is the prefix and the newest user
// message, trimmed and ending in punctuation ("nothing" if there is none).
func (e *Echo) Reply(msgs []pipeline.Message) string {
	if n := len(msgs); n > 0 && msgs[n-1].Role == pipeline.RoleTool {
		return answer(msgs)
	}
	var last string
	for i := len(msgs) - 1; i >= 0; i-- {
		if msgs[i].Role == pipeline.RoleUser {
			last = strings.TrimSpace(msgs[i].Content)
			break
		}
	}
	prefix := e.cfg.Prefix
	if prefix == "" {
		prefix = DefaultPrefix
	}
	return prefix + sentence(last)
}

// sentence returns s ending in punctuation, or "nothing." for blank s.
func sentence(s string) string {
	if s == "" {
		s = "nothing"
	}
	if r, _ := utf8.DecodeLastRuneInString(s); !strings.ContainsRune(".!?。！？", r) {
		s += "."
	}
	return s
}

// Generate streams Reply(msgs) a word at a time, each delta ending in its
// space. It honours the Generator contract: emit is called in order from
// this goroutine, an emit error stops it and is returned, and a cancelled
// ctx ends it at once with ctx's error. It does not retain msgs.
func (e *Echo) Generate(ctx context.Context, msgs []pipeline.Message, emit func(delta string) error) error {
	return e.stream(ctx, wordDeltas(e.Reply(msgs)), func(d pipeline.Delta) error { return emit(d.Text) })
}

// GenerateTools streams the call ToolCall(msgs, tools) returns, if any, in
// two pieces: its ID and name, then its arguments. Otherwise it streams
// Reply(msgs) as Generate does. Pacing and the contract are Generate's.
func (e *Echo) GenerateTools(ctx context.Context, msgs []pipeline.Message, tools []pipeline.Tool, emit func(pipeline.Delta) error) error {
	call, ok := e.ToolCall(msgs, tools)
	if !ok {
		return e.stream(ctx, wordDeltas(e.Reply(msgs)), emit)
	}
	return e.stream(ctx, []pipeline.Delta{
		{Call: &pipeline.ToolCallDelta{ID: call.ID, Name: call.Name}},
		{Call: &pipeline.ToolCallDelta{Arguments: call.Arguments}},
	}, emit)
}

// wordDeltas cuts text after each space.
func wordDeltas(text string) []pipeline.Delta {
	words := strings.SplitAfter(text, " ")
	out := make([]pipeline.Delta, len(words))
	for i, w := range words {
		out[i] = pipeline.Delta{Text: w}
	}
	return out
}

// stream emits deltas at the configured pace.
func (e *Echo) stream(ctx context.Context, deltas []pipeline.Delta, emit func(pipeline.Delta) error) error {
	if err := pipeline.Sleep(ctx, e.cfg.FirstToken); err != nil {
		return err
	}
	for i, d := range deltas {
		if i > 0 {
			if err := pipeline.Sleep(ctx, e.cfg.PerToken); err != nil {
				return err
			}
		}
		if err := emit(d); err != nil {
			return err
		}
	}
	return nil
}
