//go:build cgo && linux

package piper_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/voicegate/voicegate/audio"
	"github.com/voicegate/voicegate/pipeline/conformance"
	"github.com/voicegate/voicegate/providers/tts/piper"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const sentence = "The quick brown fox jumps over the lazy dog near the river."

func newSynth(t testing.TB, cfg piper.Config) *piper.Synthesizer {
	t.Helper()
	start := time.Now()
	s, err := piper.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	t.Logf("New: %v", time.Since(start).Round(time.Millisecond))
	return s
}

// speak returns the audio of text and when its first chunk came.
func speak(t testing.TB, s *piper.Synthesizer, text string) (pcm []int16, first, total time.Duration) {
	t.Helper()
	start := time.Now()
	err := s.Synthesize(context.Background(), text, func(p []int16) error {
		if first == 0 {
			first = time.Since(start)
		}
		pcm = append(pcm, p...)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return pcm, first, time.Since(start)
}

func TestSynthesize(t *testing.T) {
	s := newSynth(t, piper.Config{})
	if want := (audio.Format{SampleRate: 22050, Channels: 1}); s.Format() != want {
		t.Fatalf("Format %v, want %v", s.Format(), want)
	}
	pcm, first, total := speak(t, s, sentence)
	d := s.Format().Duration(len(pcm))
	t.Logf("%d words: %v of audio, first after %v, all after %v", len(strings.Fields(sentence)), d, first, total)
	if d < 2*time.Second || d > 6*time.Second {
		t.Errorf("%v of audio for %q", d, sentence)
	}
	if db := audio.DBFS(audio.RMS(pcm)); db < -35 {
		t.Errorf("audio at %.1f dBFS: nearly silent", db)
	}
	// Piper samples its timing: a take differs from the next by up to
	// about 13%, so each speed is the mean of three takes.
	fast := newSynth(t, piper.Config{Speed: 2, Engines: 1})
	mean := func(s *piper.Synthesizer) float64 {
		n := 0
		for range 3 {
			p, _, _ := speak(t, s, sentence)
			n += len(p)
		}
		return float64(n) / 3
	}
	ratio := mean(fast) / mean(s)
	t.Logf("speed 2: %.2f of the duration at speed 1", ratio)
	if ratio > 0.75 { // measured 0.63–0.67
		t.Errorf("Speed 2 gives %.2f of the duration at 1, want clearly less (about two thirds)", ratio)
	}
}

func TestConformance(t *testing.T) {
	s := newSynth(t, piper.Config{Engines: 2})
	if err := conformance.TestSynthesizer(context.Background(), s); err != nil {
		t.Fatal(err)
	}
}

// TestStreamsBySentence: the first sentence's audio is emitted before the
// last is made, and a cancel returns at once even mid-sentence.
func TestStreamsBySentence(t *testing.T) {
	s := newSynth(t, piper.Config{Engines: 1})
	text := "First a short one. " + strings.Repeat("Then a much longer sentence follows it, with a good many words to say. ", 3)
	var chunks int
	start := time.Now()
	var first time.Duration
	_, _, total := speak(t, s, "Warm up.")
	_ = total
	err := s.Synthesize(context.Background(), text, func(p []int16) error {
		if chunks == 0 {
			first = time.Since(start)
		}
		chunks++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	all := time.Since(start)
	t.Logf("%d chunks; first after %v, all after %v", chunks, first, all)
	if chunks != 4 {
		t.Errorf("%d chunks, want one per sentence (4)", chunks)
	}
	if first > all/2 {
		t.Errorf("first audio after %v of %v: not streamed", first, all)
	}

	ctx, cancel := context.WithCancel(context.Background())
	var cancelled time.Time
	err = s.Synthesize(ctx, text, func([]int16) error {
		cancel()
		cancelled = time.Now()
		return nil
	})
	if took := time.Since(cancelled); !errors.Is(err, context.Canceled) || took > 20*time.Millisecond {
		t.Errorf("after cancel: %v, %v later; want context.Canceled at once", err, took)
	}
	// The engine is busy finishing the sentence in hand; the next call waits for it.
	if _, _, total := speak(t, s, "Next."); total > 5*time.Second {
		t.Errorf("next call took %v", total)
	}
}

func TestConcurrentSessionsShareEngines(t *testing.T) {
	s := newSynth(t, piper.Config{Engines: 2})
	want, _, _ := speak(t, s, sentence)
	var wg sync.WaitGroup
	errs := make(chan error, 5)
	for range 5 {
		wg.Go(func() {
			n := 0
			err := s.Synthesize(context.Background(), sentence, func(p []int16) error { n += len(p); return nil })
			if err == nil && (n < len(want)*9/10 || n > len(want)*11/10) {
				err = errors.New("concurrent call made a different length")
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	// A waiter gives up when its ctx ends.
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	block := make(chan struct{})
	var hold sync.WaitGroup
	for range 2 {
		hold.Go(func() {
			_ = s.Synthesize(context.Background(), sentence, func([]int16) error { <-block; return nil })
		})
	}
	time.Sleep(20 * time.Millisecond)
	if err := s.Synthesize(ctx, sentence, func([]int16) error { return nil }); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("waiting for an engine: %v, want the deadline", err)
	}
	close(block)
	hold.Wait()
}

func TestClose(t *testing.T) {
	s := newSynth(t, piper.Config{Engines: 1})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := s.Synthesize(context.Background(), sentence, func([]int16) error { return nil }); !errors.Is(err, piper.ErrClosed) {
		t.Fatalf("after Close: %v, want ErrClosed", err)
	}
}

func TestIncompleteDirectory(t *testing.T) {
	good := piper.DefaultDir()
	copyFile := func(t *testing.T, dir, name string) {
		b, err := os.ReadFile(filepath.Join(good, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write := func(t *testing.T, dir, name, body string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name    string
		setup   func(t *testing.T, dir string)
		cfg     func(dir string) piper.Config
		missing []string
		want    string
	}{
		{"empty directory", func(*testing.T, string) {}, func(d string) piper.Config { return piper.Config{Dir: d} },
			[]string{"model.onnx", "tokens.txt"}, "run scripts/models.sh"},
		{"no tokens", func(t *testing.T, d string) { write(t, d, "model.onnx", "x") },
			func(d string) piper.Config { return piper.Config{Dir: d} }, []string{"tokens.txt"}, "run scripts/models.sh"},
		{"no eSpeak NG data", func(*testing.T, string) {}, func(d string) piper.Config { return piper.Config{Dir: good, DataDir: d} },
			[]string{"phontab", "phonindex", "phondata", "intonations"}, "espeak-ng-data"},
		{"model without metadata", func(t *testing.T, d string) {
			copyFile(t, d, "tokens.txt")
			write(t, d, "model.onnx", strings.Repeat("onnx graph ", 100))
		}, func(d string) piper.Config { return piper.Config{Dir: d} }, nil, "no sherpa-onnx metadata sample_rate, n_speakers, language, comment"},
		{"malformed tokens", func(t *testing.T, d string) {
			copyFile(t, d, "model.onnx")
			write(t, d, "tokens.txt", "_ 0\n^ 1\nab 2\n")
		}, func(d string) piper.Config { return piper.Config{Dir: d} }, nil, `line 3: "ab 2"`},
		{"tokens without the end symbol", func(t *testing.T, d string) {
			copyFile(t, d, "model.onnx")
			write(t, d, "tokens.txt", "_ 0\n^ 1\n 3\n")
		}, func(d string) piper.Config { return piper.Config{Dir: d} }, nil, `no symbol '$'`},
		{"bad settings", func(*testing.T, string) {}, func(string) piper.Config {
			return piper.Config{Speed: 3, Engines: 100, Threads: -1}
		}, nil, "Speed 3, want 0.5 to 2\npiper: Engines 100, want 1 to 64\npiper: Threads -1, want 1 to 16"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			tt.setup(t, dir)
			_, err := piper.New(tt.cfg(dir))
			if err == nil {
				t.Fatal("New succeeded")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not say %q", err, tt.want)
			}
			var me *piper.MissingError
			if got := errors.As(err, &me); got != (tt.missing != nil) {
				t.Fatalf("error %q: MissingError %v, want %v", err, got, tt.missing != nil)
			}
			if me != nil && strings.Join(me.Missing, " ") != strings.Join(tt.missing, " ") {
				t.Errorf("missing %v, want %v", me.Missing, tt.missing)
			}
		})
	}
}
