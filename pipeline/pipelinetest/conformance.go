package pipelinetest

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/voicegate/voicegate/audio"
	"github.com/voicegate/voicegate/pipeline"
)

// Conformance checks what the pipeline relies on from every provider,
// whatever its engine: output arrives through emit, emit's error and a
// cancelled context stop the call promptly, and concurrent calls are safe.
// Providers call these from their own tests with a working instance.

// CancelWithin is how soon a provider must return once its context is
// cancelled or emit fails. Generous, so a busy CI machine does not fail it;
// providers that do much better measure it in their own tests.
const CancelWithin = 500 * time.Millisecond

const conformanceText = "Good morning. Today will be mostly sunny with a light breeze from the west. " +
	"In the evening clouds gather, and tomorrow brings a chance of rain."

// TestSynthesizer checks s against the Synthesizer contract.
func TestSynthesizer(t *testing.T, s pipeline.Synthesizer) {
	t.Helper()
	if err := s.Format().Validate(); err != nil {
		t.Fatalf("Format(): %v", err)
	}
	speak := func(ctx context.Context, text string, emit func([]int16) error) (int, error) {
		n := 0
		err := s.Synthesize(ctx, text, func(pcm []int16) error {
			n += len(pcm)
			return emit(pcm)
		})
		return n, err
	}
	ok := func([]int16) error { return nil }

	t.Run("speaks", func(t *testing.T) {
		var loud int
		n, err := speak(context.Background(), conformanceText, func(pcm []int16) error {
			if audio.DBFS(audio.RMS(pcm)) > -50 {
				loud += len(pcm)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		d := s.Format().Duration(n)
		perRune := d / time.Duration(utf8.RuneCountInString(conformanceText))
		if perRune < 20*time.Millisecond || perRune > 200*time.Millisecond {
			t.Errorf("%v of audio for %d characters (%v each)", d, utf8.RuneCountInString(conformanceText), perRune)
		}
		if loud < n/4 {
			t.Errorf("only %d of %d samples are above -50 dBFS", loud, n)
		}
	})
	t.Run("emit error stops it", func(t *testing.T) {
		stop := errors.New("client went away")
		calls := 0
		start := time.Now()
		_, err := speak(context.Background(), conformanceText, func([]int16) error {
			calls++
			return stop
		})
		if !errors.Is(err, stop) {
			t.Fatalf("Synthesize returned %v, want emit's error", err)
		}
		if calls != 1 {
			t.Errorf("emit called %d times after it failed once", calls)
		}
		if d := time.Since(start); d > CancelWithin+5*time.Second {
			t.Errorf("took %v", d)
		}
	})
	t.Run("cancel stops it", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		var at time.Time
		var mu sync.Mutex
		after := 0
		_, err := speak(ctx, conformanceText, func([]int16) error {
			mu.Lock()
			defer mu.Unlock()
			if at.IsZero() {
				cancel()
				at = time.Now()
			} else {
				after++
			}
			return nil
		})
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Synthesize returned %v, want context.Canceled", err)
		}
		if d := time.Since(at); d > CancelWithin {
			t.Errorf("returned %v after the cancel", d)
		}
		if _, err := speak(ctx, conformanceText, func([]int16) error {
			t.Error("emit called with a cancelled context")
			return nil
		}); err == nil {
			t.Error("a cancelled context gave no error")
		}
	})
	t.Run("concurrent calls", func(t *testing.T) {
		want, err := speak(context.Background(), "One more sentence to say.", ok)
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		for range 3 {
			wg.Go(func() {
				got, err := speak(context.Background(), "One more sentence to say.", ok)
				if err != nil {
					t.Error(err)
				} else if got < want*9/10 || got > want*11/10 {
					t.Errorf("concurrent call made %d samples, a lone one %d", got, want)
				}
			})
		}
		wg.Wait()
	})
	t.Run("blank text", func(t *testing.T) {
		if _, err := speak(context.Background(), " \n\t", ok); err != nil {
			t.Errorf("blank text: %v", err)
		}
	})
}

// TestGenerator checks g against the Generator contract with a short
// conversation.
func TestGenerator(t *testing.T, g pipeline.Generator) {
	t.Helper()
	msgs := []pipeline.Message{
		{Role: pipeline.RoleSystem, Content: "Be brief."},
		{Role: pipeline.RoleUser, Content: "Tell me about the weather today."},
	}
	snapshot := append([]pipeline.Message(nil), msgs...)

	t.Run("streams whole runes", func(t *testing.T) {
		var b strings.Builder
		deltas := 0
		err := g.Generate(context.Background(), msgs, func(d string) error {
			if !utf8.ValidString(d) {
				t.Errorf("delta %q splits a rune", d)
			}
			deltas++
			b.WriteString(d)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if strings.TrimSpace(b.String()) == "" || deltas == 0 {
			t.Fatalf("no reply (%d deltas)", deltas)
		}
		for i := range msgs {
			if msgs[i] != snapshot[i] {
				t.Fatal("Generate modified its messages")
			}
		}
	})
	t.Run("emit error stops it", func(t *testing.T) {
		stop := errors.New("client went away")
		calls := 0
		err := g.Generate(context.Background(), msgs, func(string) error {
			calls++
			return stop
		})
		if !errors.Is(err, stop) {
			t.Fatalf("Generate returned %v, want emit's error", err)
		}
		if calls != 1 {
			t.Errorf("emit called %d times after it failed once", calls)
		}
	})
	t.Run("cancel stops it", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		var at time.Time
		err := g.Generate(ctx, msgs, func(string) error {
			if at.IsZero() {
				cancel()
				at = time.Now()
			}
			return nil
		})
		if at.IsZero() {
			t.Fatalf("no delta emitted (%v)", err)
		}
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Generate returned %v, want context.Canceled", err)
		}
		if d := time.Since(at); d > CancelWithin {
			t.Errorf("returned %v after the cancel", d)
		}
	})
}
