package cache

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/voicegate/voicegate/audio"
	"github.com/voicegate/voicegate/pipeline"
)

// replayChunk is the audio of one emit when a sentence is replayed: short
// enough that a barge-in stops the replay at once, long enough that a
// sentence is a few dozen calls.
const replayChunk = 40 * time.Millisecond

// Synthesizer returns inner with a cache of its sentences in front. The
// key of a sentence is the SHA-256 of o.Variant, inner's name, the voice
// (see WithVoice), the format and the text. A hit replays the audio at
// once in chunks of 40 ms, honouring ctx; a miss runs inner and stores
// what it made only when it finished without error, cancellation or an
// emit that failed, and lasts at most c.MaxEntry. Two sessions that miss
// the same sentence at once both synthesize it (the second store
// replaces the first): a miss never waits for another session's
// synthesis, so a slow or cut one can neither delay nor fail it. Blank
// text is passed to inner uncached.
//
// The result has inner's Name and Format, is a pipeline.Voiced when inner
// is, and forwards Prewarm.
func Synthesizer(inner pipeline.Synthesizer, c TTSConfig, o Options) (pipeline.Synthesizer, error) {
	f := inner.Format()
	if err := f.Validate(); err != nil {
		return nil, fmt.Errorf("cache: %s: %w", pipeline.NameOf(inner), err)
	}
	if c.MaxBytes <= 0 || c.MaxEntry <= 0 || c.TTL <= 0 {
		return nil, errors.New("cache: the TTS cache needs positive max_bytes, max_entry and ttl")
	}
	s := &synth{
		inner:    inner,
		name:     pipeline.NameOf(inner),
		format:   f,
		maxEntry: f.Bytes(c.MaxEntry),
		variant:  o.Variant,
		primary:  o.Primary,
		tiers:    newTiers("tts", c.MaxBytes, c.TTL, o),
	}
	return s.wrap(), nil
}

// synth is the cache in front of one synthesizer, in one voice.
type synth struct {
	inner    pipeline.Synthesizer
	name     string
	voice    string // "" for inner's own
	format   audio.Format
	maxEntry int // bytes of PCM16
	variant  string
	primary  string // Options.Primary
	tiers    *tiers // shared by every voice
}

// voicedSynth is a synth whose inner speaks in more than one voice.
type voicedSynth struct{ *synth }

var (
	_ pipeline.Synthesizer = (*synth)(nil)
	_ pipeline.Voiced      = voicedSynth{}
)

func (s *synth) wrap() pipeline.Synthesizer {
	if _, ok := s.inner.(pipeline.Voiced); ok {
		return voicedSynth{s}
	}
	return s
}

// Name is inner's.
func (s *synth) Name() string { return s.name }

// Format is inner's.
func (s *synth) Format() audio.Format { return s.format }

// WithVoice returns the cache in front of inner's WithVoice(voice); the
// voice is part of its keys.
func (v voicedSynth) WithVoice(voice string) (pipeline.Synthesizer, error) {
	inner, err := v.inner.(pipeline.Voiced).WithVoice(voice)
	if err != nil {
		return nil, err
	}
	if f := inner.Format(); f != v.format {
		return nil, fmt.Errorf("cache: %s in voice %q produces %v, not %v", v.name, voice, f, v.format)
	}
	c := *v.synth
	c.inner, c.voice, c.name = inner, voice, pipeline.NameOf(inner)
	return c.wrap(), nil
}

// Prewarm warms inner when it can be.
func (s *synth) Prewarm(ctx context.Context) error {
	if p, ok := s.inner.(interface{ Prewarm(context.Context) error }); ok {
		return p.Prewarm(ctx)
	}
	return nil
}

func (s *synth) key(text string) string {
	k := newKey("tts", s.variant, s.name)
	k.str(s.voice)
	k.str(strconv.Itoa(s.format.SampleRate) + "/" + strconv.Itoa(s.format.Channels))
	k.str(text)
	return k.sum("tts")
}

// Synthesize speaks text from the cache, or through inner and into it.
func (s *synth) Synthesize(ctx context.Context, text string, emit func(pcm []int16) error) error {
	if strings.TrimSpace(text) == "" {
		return s.inner.Synthesize(ctx, text, emit)
	}
	key := s.key(text)
	if pcm, ok := s.tiers.get(ctx, key, func(b []byte) bool { return len(b)%2 == 0 && len(b) <= s.maxEntry }); ok {
		pipeline.Answered(ctx, Name)
		return s.replay(ctx, pcm, emit)
	}
	var (
		buf      []byte
		tooLarge bool
		out      emitFailure
	)
	emit = watch(&out, emit)
	who, err := answeredBy(ctx, pipeline.StageTTS, func(ctx context.Context) error {
		return s.inner.Synthesize(ctx, text, func(pcm []int16) error {
			if !tooLarge {
				if len(buf)+2*len(pcm) > s.maxEntry {
					tooLarge, buf = true, nil
				} else {
					buf = audio.EncodePCM16(buf, pcm)
				}
			}
			return emit(pcm)
		})
	})
	unfit := ""
	switch {
	case tooLarge:
		unfit = skipTooLarge
	case fellBack(s.primary, who):
		unfit = skipFallback
	}
	s.tiers.keep(ctx, key, buf, out, err, unfit)
	return err
}

// replay emits pcm, PCM16 bytes, in chunks of replayChunk.
func (s *synth) replay(ctx context.Context, pcm []byte, emit func([]int16) error) error {
	step := 2 * s.format.Samples(replayChunk)
	buf := make([]int16, 0, step/2)
	for off := 0; off < len(pcm); off += step {
		if err := ctx.Err(); err != nil {
			return err
		}
		end := min(off+step, len(pcm))
		buf, _ = audio.DecodePCM16(buf[:0], pcm[off:end])
		if err := emit(buf); err != nil {
			return err
		}
	}
	return ctx.Err()
}
