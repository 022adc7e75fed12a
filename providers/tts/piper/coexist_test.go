//go:build cgo && linux

package piper_test

import (
	"context"
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
// eSpeak NG varies by a few samples between runs and by up to 2 % with the
// voice it spoke before (German after Mandarin is shorter than after
// English), Piper by some percent (its durations are sampled with noise).
func near(got, want, pct int) bool { return got >= want*(100-pct)/100 && got <= want*(100+pct)/100 }

// Mandarin as the espeakng provider's Pinyin voice reads it, with the
// phonemes of its first syllables (今天天气): the eSpeak NG inside
// sherpa-onnx, given the same data, reads them "l#qk_| qZ;k_| qZ;k_|".
const (
	hanzi      = "今天天气很好，我们去公园吧。"
	pinyin     = "jin1 tian1 tian1 qi4 hen3 hao3, wo3 men5 qu4 gong1 yuan2 ba5."
	hanziStart = "tS;'i55n_| th'iE55n_| th'iE55n_| tS;h'i51_|"
)

// mandarin checks that zh, a cmn-latn-pinyin Synthesizer, reads hanzi as
// its Pinyin, and returns the phonemes.
func mandarin(ctx context.Context, zh *espeakng.Synthesizer) (string, error) {
	han, err := zh.Phonemes(ctx, hanzi)
	if err != nil {
		return "", err
	}
	py, err := zh.Phonemes(ctx, pinyin)
	if err != nil {
		return "", err
	}
	if han != py || !strings.HasPrefix(han, hanziStart) {
		return han, fmt.Errorf("Hanzi read as %q, their Pinyin as %q, want both to start %q", han, py, hanziStart)
	}
	return han, nil
}

// piperLength is the mean length of three takes of sentence by p: Piper's
// length of a sentence varies by up to 7 % either side of its mean.
func piperLength(t *testing.T, p *piper.Synthesizer) int {
	t.Helper()
	n := 0
	for range 3 {
		pcm, _, _ := speak(t, p, sentence)
		n += len(pcm) / 3
	}
	return n
}

// TestWithEspeakNG runs the espeakng provider and Piper in one process, as
// the gateway may: two eSpeak NG, Debian's loaded by espeakng in isolation
// and sherpa-onnx's inside its library, which Piper's first engine
// initialises and whose voice Piper's phonemiser changes at every
// sentence. Neither may disturb the other. This file's tests run before any
// other Piper test creates an engine, so the order "espeakng first, then
// Piper" is the one exercised here; TestPiperThenEspeakNG covers the other.
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
	zh, err := espeakng.New(espeakng.Config{Voice: "cmn-latn-pinyin"})
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
	zhBefore, err := mandarin(ctx, zh)
	if err != nil {
		t.Fatal(err)
	}

	p := newSynth(t, piper.Config{Engines: 2})
	alone := piperLength(t, p)

	after, err := espeakSay(ctx, en, sentence)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("espeakng en-us before Piper: %d samples in %d chunks; after: %d in %d", before["en"].samples,
		before["en"].chunks, after.samples, after.chunks)
	if !near(after.samples, before["en"].samples, 3) {
		t.Errorf("espeakng after Piper's first engine: %d samples, before %d", after.samples, before["en"].samples)
	}
	if got, err := mandarin(ctx, zh); err != nil || got != zhBefore {
		t.Errorf("Mandarin after Piper's first engine: %q (%v), before %q", got, err, zhBefore)
	}

	// Interleaved and concurrent: two Piper sessions and three espeakng ones
	// (different voices and rates, Mandarin read as phonemes), each five
	// times.
	var wg sync.WaitGroup
	errs := make(chan error, 5)
	check := func(name string, n func() (int, error), want, pct int) {
		wg.Go(func() {
			for i := range 5 {
				got, err := n()
				if err == nil && !near(got, want, pct) {
					err = fmt.Errorf("%d, alone %d", got, want)
				}
				if err != nil {
					errs <- fmt.Errorf("%s, round %d: %w", name, i, err)
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
	check("piper 1", piperSay, alone, 12)
	check("piper 2", piperSay, alone, 12)
	check("espeakng en-us", func() (int, error) { tk, err := espeakSay(ctx, en, sentence); return tk.samples, err }, before["en"].samples, 3)
	check("espeakng de", func() (int, error) { tk, err := espeakSay(ctx, de, german); return tk.samples, err }, before["de"].samples, 3)
	check("espeakng cmn-latn-pinyin", func() (int, error) {
		got, err := mandarin(ctx, zh)
		if err == nil && got != zhBefore {
			err = fmt.Errorf("read %q, alone %q", got, zhBefore)
		}
		return len(got), err
	}, len(zhBefore), 0)
	start := time.Now()
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	t.Logf("interleaved: 10 Piper and 15 eSpeak NG takes in %v", time.Since(start).Round(time.Millisecond))

	// An espeakng synthesis does not wait for Piper: Piper makes its second
	// sentence (0.1–0.5 s) while its first is emitted, and the espeakng
	// sentence (a few milliseconds of work) is made well within that.
	var (
		during espeakTake
		took   time.Duration
		waited error
	)
	attempted := false
	err = p.Synthesize(ctx, sentence+" "+sentence, func([]int16) error {
		if !attempted {
			attempted = true
			time.Sleep(20 * time.Millisecond)
			short, cancel := context.WithTimeout(ctx, 150*time.Millisecond)
			defer cancel()
			start := time.Now()
			during, waited = espeakSay(short, en, sentence)
			took = time.Since(start)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("espeakng while Piper makes a sentence: %d samples in %v (%v)", during.samples, took.Round(time.Microsecond), waited)
	if waited != nil || !near(during.samples, before["en"].samples, 3) {
		t.Errorf("espeakng while Piper makes a sentence: %d samples, %v; want %d samples within 150 ms",
			during.samples, waited, before["en"].samples)
	}
}

// TestPiperThenEspeakNG covers the other order, Piper's first engine before
// the espeakng provider loads its eSpeak NG, in a fresh process: this test
// binary run again for this test alone.
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
	first := piperLength(t, p)
	en, err := espeakng.New(espeakng.Config{})
	if err != nil {
		t.Fatal(err)
	}
	zh, err := espeakng.New(espeakng.Config{Voice: "cmn-latn-pinyin"})
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
		if _, err := mandarin(ctx, zh); err != nil {
			t.Error(err)
		}
		again, _, _ := speak(t, p, sentence)
		if !near(len(again), first, 12) {
			t.Errorf("Piper after espeakng: %d samples, before %d", len(again), first)
		}
	}
	t.Logf("espeakng after Piper: %d and %d samples in %d and %d chunks; Piper %d", takes[0].samples,
		takes[1].samples, takes[0].chunks, takes[1].chunks, first)
	if !near(takes[1].samples, takes[0].samples, 3) {
		t.Errorf("espeakng after a Piper sentence: %d samples, before it %d", takes[1].samples, takes[0].samples)
	}
	// About 3 s for this sentence at 175 words a minute.
	if d := time.Duration(takes[0].samples) * time.Second / 22050; d < 2*time.Second || d > 5*time.Second {
		t.Errorf("espeakng made %v of audio", d)
	}
}
