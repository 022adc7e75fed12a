//go:build cgo && linux

package piper_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/voicegate/voicegate/providers/tts/espeakng"
	"github.com/voicegate/voicegate/providers/tts/piper"
)

// espeakTake is what one espeakng synthesis gave.
type espeakTake struct{ samples, chunks int }

func espeakSay(ctx context.Context, s *espeakng.Synthesizer, text string) (espeakTake, error) {
	var tk espeakTake
	err := s.Synthesize(ctx, text, func(p []int16) error {
		tk.samples += len(p)
		tk.chunks++
		return nil
	})
	return tk, err
}

// near reports whether two lengths of one text agree within pct percent:
// eSpeak NG varies by a few samples between runs, Piper by some percent
// (its durations are sampled with noise).
func near(got, want, pct int) bool { return got >= want*(100-pct)/100 && got <= want*(100+pct)/100 }

// TestWithEspeakNG runs the espeakng provider and Piper in one process, as
// the gateway may: both use the eSpeak NG inside sherpa-onnx, which
// sherpa-onnx initialises again on Piper's first engine and whose voice
// Piper's phonemiser changes at every sentence. This file's tests run
// before any other Piper test creates an engine, so the order "espeakng
// first, then Piper" is the one exercised; the interleaved part covers the
// rest.
func TestWithEspeakNG(t *testing.T) {
	ctx := context.Background()
	en, err := espeakng.New(espeakng.Config{})
	if err != nil {
		t.Fatal(err)
	}
	de, err := espeakng.New(espeakng.Config{Voice: "de", Rate: 300})
	if err != nil {
		t.Fatal(err)
	}
	const german = "Guten Tag, wie geht es Ihnen heute?"
	before := map[string]espeakTake{}
	for name, say := range map[string]func() (espeakTake, error){
		"en": func() (espeakTake, error) { return espeakSay(ctx, en, sentence) },
		"de": func() (espeakTake, error) { return espeakSay(ctx, de, german) },
	} {
		if before[name], err = say(); err != nil {
			t.Fatal(err)
		}
	}

	p := newSynth(t, piper.Config{Engines: 2})
	alone, _, _ := speak(t, p, sentence)

	after, err := espeakSay(ctx, en, sentence)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("espeakng en-us before Piper: %d samples in %d chunks; after: %d in %d", before["en"].samples,
		before["en"].chunks, after.samples, after.chunks)
	if !near(after.samples, before["en"].samples, 1) {
		t.Errorf("espeakng after Piper's first engine: %d samples, before %d", after.samples, before["en"].samples)
	}

	// Interleaved and concurrent: two Piper sessions and two espeakng ones
	// (different voices and rates), each saying its sentence five times.
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	check := func(name string, n func() (int, error), want, pct int) {
		wg.Go(func() {
			for i := range 5 {
				got, err := n()
				if err == nil && !near(got, want, pct) {
					err = fmt.Errorf("%s, round %d: %d samples, alone %d", name, i, got, want)
				}
				if err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		})
	}
	piperSay := func() (int, error) {
		n := 0
		err := p.Synthesize(ctx, sentence, func(pcm []int16) error { n += len(pcm); return nil })
		return n, err
	}
	check("piper 1", piperSay, len(alone), 12)
	check("piper 2", piperSay, len(alone), 12)
	check("espeakng en-us", func() (int, error) { tk, err := espeakSay(ctx, en, sentence); return tk.samples, err }, before["en"].samples, 1)
	check("espeakng de", func() (int, error) { tk, err := espeakSay(ctx, de, german); return tk.samples, err }, before["de"].samples, 1)
	start := time.Now()
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	t.Logf("interleaved: 10 Piper and 10 eSpeak NG sentences in %v", time.Since(start).Round(time.Millisecond))

	// An espeakng synthesis waits for its turn while Piper makes a
	// sentence, and gives up with its ctx. Piper makes its second sentence
	// while its first is emitted; the attempt comes well into that.
	var waited error
	attempted := false
	err = p.Synthesize(ctx, sentence+" "+sentence, func([]int16) error {
		if !attempted {
			attempted = true
			time.Sleep(50 * time.Millisecond)
			short, cancel := context.WithTimeout(ctx, 5*time.Millisecond)
			defer cancel()
			_, waited = espeakSay(short, en, sentence)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !errors.Is(waited, context.DeadlineExceeded) {
		t.Errorf("espeakng while Piper makes a sentence, with 5 ms to wait: %v, want the deadline", waited)
	}
}

// TestPiperThenEspeakNG covers the other order, Piper's first engine before
// the espeakng provider initialises eSpeak NG, in a fresh process: this
// test binary run again for this test alone.
func TestPiperThenEspeakNG(t *testing.T) {
	if os.Getenv("VOICEGATE_PIPER_FIRST") != "1" {
		cmd := exec.Command(os.Args[0], "-test.run=^TestPiperThenEspeakNG$", "-test.v", "-test.count=1")
		cmd.Env = append(os.Environ(), "VOICEGATE_PIPER_FIRST=1")
		out, err := cmd.CombinedOutput()
		t.Logf("fresh process:\n%s", out)
		if err != nil {
			t.Fatalf("fresh process: %v", err)
		}
		if !strings.Contains(string(out), "--- PASS: TestPiperThenEspeakNG") {
			t.Fatal("the fresh process did not pass the test")
		}
		return
	}
	ctx := context.Background()
	p := newSynth(t, piper.Config{Engines: 1})
	first, _, _ := speak(t, p, sentence)
	en, err := espeakng.New(espeakng.Config{})
	if err != nil {
		t.Fatal(err)
	}
	var takes []espeakTake
	for range 2 {
		tk, err := espeakSay(ctx, en, sentence)
		if err != nil {
			t.Fatal(err)
		}
		takes = append(takes, tk)
		again, _, _ := speak(t, p, sentence)
		if !near(len(again), len(first), 12) {
			t.Errorf("Piper after espeakng: %d samples, before %d", len(again), len(first))
		}
	}
	t.Logf("espeakng after Piper: %d and %d samples; Piper %d", takes[0].samples, takes[1].samples, len(first))
	if !near(takes[1].samples, takes[0].samples, 1) {
		t.Errorf("espeakng after a Piper sentence: %d samples, before it %d", takes[1].samples, takes[0].samples)
	}
	// About 3 s for this sentence at 175 words a minute.
	if d := time.Duration(takes[0].samples) * time.Second / 22050; d < 2*time.Second || d > 5*time.Second {
		t.Errorf("espeakng made %v of audio", d)
	}
}
