//go:build cgo && linux

package flite

import (
	"context"
	"github.com/voicegate/voicegate/providers/internal/pcmstream"

	"github.com/voicegate/voicegate/audio"
	"github.com/voicegate/voicegate/pipeline"
)

const sampleRate = 16000

var _ pipeline.Synthesizer = (*Synthesizer)(nil)

// Available reports whether this build includes the Flite engine.
func Available() bool { return true }

// Synthesizer speaks with Flite. Its methods may be called concurrently;
// synthesis is serialised process-wide (see the package doc). It holds no
// resources of its own: Flite's voice lives as long as the process.
type Synthesizer struct {
	cfg Config
}

// New loads the voice (once per process) and returns a Synthesizer.
func New(cfg Config) (*Synthesizer, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if err := initEngine(); err != nil {
		return nil, err
	}
	return &Synthesizer{cfg: cfg}, nil
}

// Name is "flite".
func (s *Synthesizer) Name() string { return "flite" }

// Format is 16 kHz mono.
func (s *Synthesizer) Format() audio.Format { return audio.Mono16k }

// Synthesize speaks text, calling emit from the calling goroutine with audio
// as Flite produces it, in chunks of about 25 ms or more (more when emit is
// slower than Flite). pcm is valid only during emit. It returns ctx.Err()
// promptly once ctx is done, or emit's error; blank text emits nothing.
func (s *Synthesizer) Synthesize(ctx context.Context, text string, emit func(pcm []int16) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if pcmstream.IsBlank(text) {
		return nil
	}
	return pcmstream.Run(ctx, emit, func(st *pcmstream.Stream) error { return synthesize(text, s.cfg.Rate, st) })
}
