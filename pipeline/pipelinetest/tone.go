package pipelinetest

import (
	"context"
	"math"
	"time"
	"unicode/utf8"

	"github.com/voicegate/voicegate/audio"
	"github.com/voicegate/voicegate/pipeline"
)

// Tone is a Synthesizer that "speaks" a 440 Hz tone lasting PerRune for each
// rune of text, in chunks of Chunk, after Latency. It stands in for speech
// where only timing and volume matter.
type Tone struct {
	Rate    int           // default 16000
	Latency time.Duration // before the first chunk
	PerRune time.Duration // default 60ms
	Chunk   time.Duration // default 20ms
	// Realtime makes synthesis take as long as the audio lasts.
	Realtime bool
}

var _ pipeline.Synthesizer = (*Tone)(nil)

// Name is "tone".
func (t *Tone) Name() string { return "tone" }

// Format returns mono audio at Rate.
func (t *Tone) Format() audio.Format {
	r := t.Rate
	if r == 0 {
		r = 16000
	}
	return audio.Format{SampleRate: r, Channels: 1}
}

// Duration returns how long the audio for text lasts.
func (t *Tone) Duration(text string) time.Duration {
	per := t.PerRune
	if per == 0 {
		per = 60 * time.Millisecond
	}
	return time.Duration(utf8.RuneCountInString(text)) * per
}

// Synthesize emits the tone for text.
func (t *Tone) Synthesize(ctx context.Context, text string, emit func([]int16) error) error {
	f := t.Format()
	chunk := t.Chunk
	if chunk == 0 {
		chunk = 20 * time.Millisecond
	}
	if err := sleep(ctx, t.Latency); err != nil {
		return err
	}
	total := f.Samples(t.Duration(text))
	buf := make([]int16, f.Samples(chunk))
	// A rotating phasor: two multiplications a sample instead of a sine,
	// so load runs measure the gateway, not this stand-in.
	step := 2 * math.Pi * 440 / float64(f.SampleRate)
	cosStep, sinStep := math.Cos(step), math.Sin(step)
	re, im := 1.0, 0.0
	for n := 0; n < total; {
		k := min(len(buf), total-n)
		for i := range buf[:k] {
			buf[i] = int16(8000 * im)
			re, im = re*cosStep-im*sinStep, im*cosStep+re*sinStep
		}
		if g := math.Hypot(re, im); g != 0 { // keep the amplitude from drifting
			re, im = re/g, im/g
		}
		if err := emit(buf[:k]); err != nil {
			return err
		}
		n += k
		if t.Realtime {
			if err := sleep(ctx, chunk); err != nil {
				return err
			}
		} else if err := ctx.Err(); err != nil {
			return err
		}
	}
	return nil
}
