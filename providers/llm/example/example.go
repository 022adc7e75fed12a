// Package example is the smallest complete provider, the one
// docs/providers.md walks through: a Generator that answers with the user's
// last words reversed, one word at a time, the way a model streams tokens.
package example

import (
	"context"
	"strings"
	"time"

	"github.com/voicegate/voicegate/pipeline"
)

// Config configures a Reverser. The zero value works.
type Config struct {
	// Delay between words, to feel like a model streaming. Default 0.
	Delay time.Duration `yaml:"delay"`
}

// Reverser is a pipeline.Generator. It is safe for concurrent use: it keeps
// no state between calls.
type Reverser struct {
	cfg Config
}

// The compile-time guard every provider carries.
var _ pipeline.Generator = (*Reverser)(nil)

// New returns a Reverser.
func New(cfg Config) *Reverser { return &Reverser{cfg: cfg} }

// Generate emits the words of the newest user message in reverse order.
// It honours the contract: emit is called in order from this goroutine,
// each delta is whole UTF-8, an emit error stops it, and a cancelled ctx
// ends it promptly with ctx's error.
// Name is how logs, metrics and turn.latency name the provider.
func (r *Reverser) Name() string { return "reverse" }

func (r *Reverser) Generate(ctx context.Context, msgs []pipeline.Message, emit func(delta string) error) error {
	var last string
	for i := len(msgs) - 1; i >= 0; i-- {
		if msgs[i].Role == pipeline.RoleUser {
			last = msgs[i].Content
			break
		}
	}
	words := strings.Fields(last) // our own copy: msgs is not ours to keep
	for i := len(words) - 1; i >= 0; i-- {
		delta := words[i]
		if i < len(words)-1 {
			delta = " " + delta
		}
		if err := emit(delta); err != nil {
			return err
		}
		if err := pipeline.Sleep(ctx, r.cfg.Delay); err != nil {
			return err
		}
	}
	return nil
}
