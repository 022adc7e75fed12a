//go:build cgo && linux

package espeakng

import (
	"context"

	"github.com/voicegate/voicegate/audio"
	"github.com/voicegate/voicegate/pipeline"
	"github.com/voicegate/voicegate/providers/internal/pcmstream"
)

var (
	_ pipeline.Synthesizer = (*Synthesizer)(nil)
	_ pipeline.Voiced      = (*Synthesizer)(nil)
)

// Available reports whether this build includes the eSpeak NG engine.
func Available() bool { return true }

// Synthesizer speaks with eSpeak NG. Its methods may be called concurrently;
// synthesis is serialised process-wide (see the package doc). It holds no
// resources of its own.
type Synthesizer struct {
	lib *library
	cfg Config
}

// New loads and initialises Debian's eSpeak NG (once per process; an
// error wrapping ErrNoLibrary when it is not installed), checks that cfg.Voice
// exists and returns a Synthesizer.
func New(cfg Config) (*Synthesizer, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	lib, err := loadLibrary()
	if err != nil {
		return nil, err
	}
	if err := lib.configure(cfg); err != nil {
		return nil, err
	}
	return &Synthesizer{lib: lib, cfg: cfg}, nil
}

// WithVoice returns a Synthesizer like s that speaks in voice, an eSpeak
// NG voice or language name, once eSpeak NG has it.
func (s *Synthesizer) WithVoice(voice string) (pipeline.Synthesizer, error) {
	cfg := s.cfg
	cfg.Voice = voice
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if err := s.lib.configure(cfg); err != nil {
		return nil, err
	}
	return &Synthesizer{lib: s.lib, cfg: cfg}, nil
}

// Name is "espeakng:<voice>", e.g. "espeakng:en-us".
func (s *Synthesizer) Name() string { return "espeakng:" + s.cfg.Voice }

// Format is 22050 Hz mono.
func (s *Synthesizer) Format() audio.Format { return audio.Format{SampleRate: sampleRate, Channels: 1} }

// Synthesize speaks text (UTF-8), calling emit from the calling goroutine
// with audio as eSpeak NG produces it, in chunks of 20 ms or more (more when
// emit is slower than the engine). pcm is valid only during emit. It returns
// ctx.Err() promptly once ctx is done, or emit's error; blank text emits
// nothing.
func (s *Synthesizer) Synthesize(ctx context.Context, text string, emit func(pcm []int16) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if pcmstream.IsBlank(text) {
		return nil
	}
	return pcmstream.Run(ctx, emit, func(st *pcmstream.Stream) error { return s.lib.synthesize(ctx, s.cfg, text, st) })
}

// Phonemes is eSpeak NG's reading of text (UTF-8) in its phoneme mnemonics,
// as `espeak-ng -x` prints them ("tS;'i55n" for 今 in cmn-latn-pinyin),
// clause after clause, separated by spaces: what Synthesize speaks. It
// waits for the engine until ctx is done.
func (s *Synthesizer) Phonemes(ctx context.Context, text string) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	return s.lib.phonemes(ctx, s.cfg, text)
}
