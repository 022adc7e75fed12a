//go:build cgo && linux

package flite_test

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/voicegate/voicegate/audio"
	"github.com/voicegate/voicegate/pipeline/conformance"
	"github.com/voicegate/voicegate/providers/tts/flite"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// sentence has 16 words.
const sentence = "The quick brown fox jumps over the lazy dog while the farmer watches from the porch."

const paragraph = "Good morning. Today will be mostly sunny with a high of twenty two degrees. " +
	"In the afternoon a light breeze will come in from the west, and clouds will gather by the evening. " +
	"Tomorrow brings a chance of rain, so keep an umbrella close by when you head out to work."

func newSynth(t testing.TB, cfg flite.Config) *flite.Synthesizer {
	t.Helper()
	start := time.Now()
	s, err := flite.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("New: %v", time.Since(start).Round(time.Microsecond))
	return s
}

// take is one Synthesize call's output.
type take struct {
	pcm    []int16
	chunks int
	first  time.Duration // from the call to the first emit
	total  time.Duration // from the call to its return
}

func synth(t testing.TB, s *flite.Synthesizer, text string) take {
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

func rms(pcm []int16) float64 {
	var sum float64
	for _, v := range pcm {
		sum += float64(v) * float64(v)
	}
	return math.Sqrt(sum / float64(max(len(pcm), 1)))
}

func TestSynthesize(t *testing.T) {
	s := newSynth(t, flite.Config{})
	if got := s.Format(); got != audio.Mono16k {
		t.Fatalf("Format %v, want %v", got, audio.Mono16k)
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
		if tk.chunks < 10 {
			t.Errorf("%d chunks: audio is not streamed", tk.chunks)
		}
		if tk.first > tk.total/2 {
			t.Errorf("first audio after %v of %v: not streamed ahead of the end", tk.first, tk.total)
		}
	}
}

func TestRate(t *testing.T) {
	normal := synth(t, newSynth(t, flite.Config{}), sentence)
	fast := synth(t, newSynth(t, flite.Config{Rate: 1.5}), sentence)
	ratio := float64(len(fast.pcm)) / float64(len(normal.pcm))
	t.Logf("Rate 1.5: %.2f of the duration at Rate 1", ratio)
	if ratio < 0.55 || ratio > 0.8 {
		t.Errorf("Rate 1.5 gives %.2f of the normal duration, want about 0.67", ratio)
	}
	// The rate is per Synthesizer, not left behind in the shared voice.
	if again := synth(t, newSynth(t, flite.Config{}), sentence); len(again.pcm) != len(normal.pcm) {
		t.Errorf("Rate 1 after Rate 1.5: %d samples, want %d", len(again.pcm), len(normal.pcm))
	}
}

func TestCancel(t *testing.T) {
	s := newSynth(t, flite.Config{})
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
	if got >= len(full.pcm)/2 {
		t.Errorf("%d of %d samples emitted after cancelling at the first chunk", got, len(full.pcm))
	}

	// Cancelled before the call: nothing happens.
	err = s.Synthesize(ctx, paragraph, func([]int16) error {
		t.Error("emit called with a cancelled ctx")
		return nil
	})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("pre-cancelled: got %v, want context.Canceled", err)
	}

	// The engine is fine afterwards.
	if again := synth(t, s, sentence); len(again.pcm) == 0 {
		t.Error("no audio after a cancelled synthesis")
	}
}

func TestConfigErrors(t *testing.T) {
	for _, cfg := range []flite.Config{{Voice: "kal"}, {Rate: -1}, {Rate: 10}} {
		if _, err := flite.New(cfg); err == nil {
			t.Errorf("New(%+v) succeeded", cfg)
		}
	}
}

func BenchmarkSynthesize(b *testing.B) {
	s := newSynth(b, flite.Config{})
	ctx := context.Background()
	var n int
	b.ReportAllocs()
	for b.Loop() {
		n = 0
		if err := s.Synthesize(ctx, sentence, func(pcm []int16) error { n += len(pcm); return nil }); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n)/16000*float64(b.N)/b.Elapsed().Seconds(), "audio-s/s")
}

// TestConformance runs the checks every Synthesizer passes: emit errors and
// cancellation stop it, blank text is fine, concurrent calls are safe.
func TestConformance(t *testing.T) {
	if err := conformance.TestSynthesizer(t.Context(), newSynth(t, flite.Config{})); err != nil {
		t.Error(err)
	}
}
