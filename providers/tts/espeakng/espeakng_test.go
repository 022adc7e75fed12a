//go:build cgo && linux

package espeakng_test

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/voicegate/voicegate/audio"
	"github.com/voicegate/voicegate/pipeline"
	"github.com/voicegate/voicegate/pipeline/conformance"
	"github.com/voicegate/voicegate/providers/tts/espeakng"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const sentence = "The quick brown fox jumps over the lazy dog while the farmer watches from the porch."

const paragraph = "Good morning. Today will be mostly sunny with a high of twenty two degrees. " +
	"In the afternoon a light breeze will come in from the west, and clouds will gather by the evening. " +
	"Tomorrow brings a chance of rain, so keep an umbrella close by when you head out to work."

func newSynth(t testing.TB, cfg espeakng.Config) *espeakng.Synthesizer {
	t.Helper()
	start := time.Now()
	s, err := espeakng.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("New(%+v): %v", cfg, time.Since(start).Round(time.Microsecond))
	return s
}

type take struct {
	pcm    []int16
	chunks int
	first  time.Duration
	total  time.Duration
}

func synth(t testing.TB, s *espeakng.Synthesizer, text string) take {
	t.Helper()
	var tk take
	start := time.Now()
	err := s.Synthesize(context.Background(), text, func(pcm []int16) error {
		if tk.chunks == 0 {
			tk.first = time.Since(start)
		}
		tk.chunks++
		tk.pcm = append(tk.pcm, pcm...)
		return nil
	})
	tk.total = time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	return tk
}

// near reports whether two lengths of the same text agree: eSpeak NG varies
// its output by a few samples from one run to the next.
func near(a, b int) bool { return math.Abs(float64(a-b)) <= 0.005*float64(b) }

func rms(pcm []int16) float64 {
	var sum float64
	for _, v := range pcm {
		sum += float64(v) * float64(v)
	}
	return math.Sqrt(sum / float64(max(len(pcm), 1)))
}

func TestSynthesize(t *testing.T) {
	s := newSynth(t, espeakng.Config{})
	if want := (audio.Format{SampleRate: 22050, Channels: 1}); s.Format() != want {
		t.Fatalf("Format %v, want %v", s.Format(), want)
	}
	for _, text := range []string{sentence, paragraph} {
		tk := synth(t, s, text)
		dur := s.Format().Duration(len(tk.pcm))
		perChar := dur / time.Duration(len(text))
		t.Logf("%d words, %d chars: %v of audio in %d chunks; first audio after %v, all after %v (%.0fx realtime)",
			len(strings.Fields(text)), len(text), dur, tk.chunks, tk.first.Round(time.Microsecond),
			tk.total.Round(time.Microsecond), dur.Seconds()/tk.total.Seconds())
		if r := rms(tk.pcm); r < 300 {
			t.Errorf("RMS %.0f: audio nearly silent", r)
		}
		if perChar < 40*time.Millisecond || perChar > 120*time.Millisecond {
			t.Errorf("%v per character, want 40–120 ms", perChar)
		}
		if tk.first >= tk.total {
			t.Errorf("first audio after %v of %v", tk.first, tk.total)
		}
	}
}

func TestVoicesAndRate(t *testing.T) {
	en := synth(t, newSynth(t, espeakng.Config{}), "Guten Tag, wie geht es Ihnen heute?")
	de := synth(t, newSynth(t, espeakng.Config{Voice: "de"}), "Guten Tag, wie geht es Ihnen heute?")
	t.Logf("same German text: en-us %d samples, de %d samples", len(en.pcm), len(de.pcm))
	if rms(de.pcm) < 300 {
		t.Error("voice de: nearly silent")
	}
	if len(en.pcm) == len(de.pcm) {
		t.Error("voice de sounds the same length as en-us: voice not applied")
	}

	normal := synth(t, newSynth(t, espeakng.Config{}), sentence)
	fast := synth(t, newSynth(t, espeakng.Config{Rate: 350}), sentence)
	ratio := float64(len(fast.pcm)) / float64(len(normal.pcm))
	t.Logf("Rate 350: %.2f of the duration at 175", ratio)
	if ratio > 0.7 {
		t.Errorf("Rate 350 gives %.2f of the duration at 175, want about half", ratio)
	}

	// Synthesizers with different configs interleave: each keeps its own.
	a, b := newSynth(t, espeakng.Config{}), newSynth(t, espeakng.Config{Rate: 350, Pitch: 80})
	for range 2 {
		if got := synth(t, a, sentence); !near(len(got.pcm), len(normal.pcm)) {
			t.Errorf("default config after another: %d samples, want about %d", len(got.pcm), len(normal.pcm))
		}
		synth(t, b, sentence)
	}
}

func TestCancel(t *testing.T) {
	s := newSynth(t, espeakng.Config{})
	full := synth(t, s, paragraph)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var got int
	var cancelled time.Time
	err := s.Synthesize(ctx, paragraph, func(pcm []int16) error {
		got += len(pcm)
		if cancelled.IsZero() {
			cancel()
			cancelled = time.Now()
		}
		return nil
	})
	took := time.Since(cancelled)
	t.Logf("cancelled after the first chunk: returned %v later, %d of %d samples emitted", took, got, len(full.pcm))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
	if took > 50*time.Millisecond {
		t.Errorf("returned %v after cancel", took)
	}
	if got >= len(full.pcm) {
		t.Errorf("all %d samples emitted despite the cancel", got)
	}

	err = s.Synthesize(ctx, paragraph, func([]int16) error {
		t.Error("emit called with a cancelled ctx")
		return nil
	})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("pre-cancelled: got %v, want context.Canceled", err)
	}

	// The engine is fine after an aborted synthesis.
	if again := synth(t, s, paragraph); !near(len(again.pcm), len(full.pcm)) {
		t.Errorf("after an aborted synthesis: %d samples, want about %d", len(again.pcm), len(full.pcm))
	}
}

func TestConfigErrors(t *testing.T) {
	for _, cfg := range []espeakng.Config{{Voice: "no-such-voice"}, {Rate: 20}, {Pitch: 200}} {
		if _, err := espeakng.New(cfg); err == nil {
			t.Errorf("New(%+v) succeeded", cfg)
		} else {
			t.Logf("New(%+v): %v", cfg, err)
		}
	}
	// A failed voice leaves the engine usable.
	if tk := synth(t, newSynth(t, espeakng.Config{}), sentence); len(tk.pcm) == 0 {
		t.Error("no audio after a failed New")
	}
}

func BenchmarkSynthesize(b *testing.B) {
	s := newSynth(b, espeakng.Config{})
	ctx := context.Background()
	var n int
	b.ReportAllocs()
	for b.Loop() {
		n = 0
		if err := s.Synthesize(ctx, sentence, func(pcm []int16) error { n += len(pcm); return nil }); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n)/22050*float64(b.N)/b.Elapsed().Seconds(), "audio-s/s")
}

// TestConformance runs the checks every Synthesizer passes: emit errors and
// cancellation stop it, blank text is fine, concurrent calls are safe.
func TestConformance(t *testing.T) {
	if err := conformance.TestSynthesizer(t.Context(), newSynth(t, espeakng.Config{})); err != nil {
		t.Error(err)
	}
}

func TestName(t *testing.T) {
	for voice, want := range map[string]string{"": "espeakng:en-us", "de": "espeakng:de"} {
		if got := newSynth(t, espeakng.Config{Voice: voice}).Name(); got != want {
			t.Errorf("voice %q: Name() = %q, want %q", voice, got, want)
		}
	}
}

// TestWithVoice: WithVoice speaks another language's voice; an unknown one
// is refused.
func TestWithVoice(t *testing.T) {
	en := newSynth(t, espeakng.Config{})
	v, err := en.WithVoice("de")
	if err != nil {
		t.Fatal(err)
	}
	if pipeline.NameOf(v) != "espeakng:de" {
		t.Fatalf("name %q", pipeline.NameOf(v))
	}
	text := "Guten Tag, wie geht es Ihnen heute?"
	if a, b := synth(t, en, text), synth(t, v.(*espeakng.Synthesizer), text); len(a.pcm) == len(b.pcm) {
		t.Error("voice de sounds the same length as en-us: voice not applied")
	}
	for _, v := range []string{"no-such-voice-here", "../../etc/x", "en us", "", strings.Repeat("a", 41)} {
		if _, err := en.WithVoice(v); err == nil {
			t.Errorf("voice %q accepted", v)
		}
	}
}
