// Package echo is the offline default language model: a pipeline.Generator
// that repeats what it heard — "You said: turn on the lights." — streamed a
// word at a time, the way a model streams tokens. It needs no model, network
// or GPU, so a fresh install holds a whole spoken conversation until a real
// model is configured, and tests get replies they can predict.
package echo

import (
	"context"
	"strings"
	"time"

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
	// Prefix starts every reply. Default DefaultPrefix, "You said: ".
	Prefix string `yaml:"prefix"`
}

// Echo is a pipeline.Generator that answers with the user's last words. It
// keeps no state between calls, so it is safe for concurrent use; the zero
// Echo uses the defaults.
type Echo struct {
	cfg Config
}

var _ pipeline.Generator = (*Echo)(nil)

// New returns an Echo.
func New(cfg Config) *Echo { return &Echo{cfg: cfg} }

// Name returns "echo".
func (e *Echo) Name() string { return "echo" }

// Reply returns the text Echo answers to msgs: the prefix and the newest
// user message, trimmed and ending in punctuation ("nothing" if there is
// none).
func (e *Echo) Reply(msgs []pipeline.Message) string {
	var last string
	for i := len(msgs) - 1; i >= 0; i-- {
		if msgs[i].Role == pipeline.RoleUser {
			last = strings.TrimSpace(msgs[i].Content)
			break
		}
	}
	if last == "" {
		last = "nothing"
	}
	prefix := e.cfg.Prefix
	if prefix == "" {
		prefix = DefaultPrefix
	}
	if !strings.ContainsAny(last[len(last)-1:], ".!?。！？") {
		last += "."
	}
	return prefix + last
}

// Generate streams Reply(msgs) a word at a time, each delta ending in its
// space. It honours the Generator contract: emit is called in order from
// this goroutine, an emit error stops it and is returned, and a cancelled
// ctx ends it at once with ctx's error. It does not retain msgs.
func (e *Echo) Generate(ctx context.Context, msgs []pipeline.Message, emit func(delta string) error) error {
	reply := e.Reply(msgs)
	if err := pipeline.Sleep(ctx, e.cfg.FirstToken); err != nil {
		return err
	}
	for i, w := range strings.SplitAfter(reply, " ") {
		if i > 0 {
			if err := pipeline.Sleep(ctx, e.cfg.PerToken); err != nil {
				return err
			}
		}
		if err := emit(w); err != nil {
			return err
		}
	}
	return nil
}
