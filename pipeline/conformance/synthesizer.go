package conformance

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/voicegate/voicegate/audio"
	"github.com/voicegate/voicegate/pipeline"
)

const conformanceText = "Good morning. Today will be mostly sunny with a light breeze from the west. " +
	"In the evening clouds gather, and tomorrow brings a chance of rain."

// TestSynthesizer checks s against the Synthesizer contract: its Format is
// valid; it speaks a paragraph as 20–200 ms of mostly audible audio per
// character; an emit error stops it after that one call and is returned; a
// cancel ends it within CancelWithin with context.Canceled, and an already
// cancelled context emits nothing; three concurrent calls each make as much
// audio as a lone one; blank text is not an error. Every call runs under
// ctx. It returns nil, or an error joining every failed check.
func TestSynthesizer(ctx context.Context, s pipeline.Synthesizer) error {
	if err := s.Format().Validate(); err != nil {
		return fmt.Errorf("TestSynthesizer: Format(): %w", err)
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

	return run(ctx, "TestSynthesizer", []check{
		{"speaks", func(ctx context.Context, fail failFunc) {
			var loud int
			n, err := speak(ctx, conformanceText, func(pcm []int16) error {
				if audio.DBFS(audio.RMS(pcm)) > -50 {
					loud += len(pcm)
				}
				return nil
			})
			if err != nil {
				fail("%v", err)
				return
			}
			d := s.Format().Duration(n)
			runes := utf8.RuneCountInString(conformanceText)
			perRune := d / time.Duration(runes)
			if perRune < 20*time.Millisecond || perRune > 200*time.Millisecond {
				fail("%v of audio for %d characters (%v each)", d, runes, perRune)
			}
			if loud < n/4 {
				fail("only %d of %d samples are above -50 dBFS", loud, n)
			}
		}},
		{"emit error stops it", func(ctx context.Context, fail failFunc) {
			stop := errors.New("client went away")
			calls := 0
			start := time.Now()
			_, err := speak(ctx, conformanceText, func([]int16) error {
				calls++
				return stop
			})
			if !errors.Is(err, stop) {
				fail("Synthesize returned %v, want emit's error", err)
				return
			}
			if calls != 1 {
				fail("emit called %d times after it failed once", calls)
			}
			if d := time.Since(start); d > CancelWithin+5*time.Second {
				fail("took %v", d)
			}
		}},
		{"cancel stops it", func(ctx context.Context, fail failFunc) {
			ctx, cancel := context.WithCancel(ctx)
			defer cancel()
			var (
				mu sync.Mutex
				at time.Time
			)
			_, err := speak(ctx, conformanceText, func([]int16) error {
				mu.Lock()
				defer mu.Unlock()
				if at.IsZero() {
					cancel()
					at = time.Now()
				}
				return nil
			})
			if !errors.Is(err, context.Canceled) {
				fail("Synthesize returned %v, want context.Canceled", err)
				return
			}
			mu.Lock()
			since := time.Since(at)
			mu.Unlock()
			if since > CancelWithin {
				fail("returned %v after the cancel", since)
			}
			var emits int
			_, err = speak(ctx, conformanceText, func([]int16) error {
				mu.Lock()
				emits++
				mu.Unlock()
				return nil
			})
			if emits > 0 {
				fail("emit called %d times with a cancelled context", emits)
			}
			if err == nil {
				fail("a cancelled context gave no error")
			}
		}},
		{"concurrent calls", func(ctx context.Context, fail failFunc) {
			const text = "One more sentence to say."
			want, err := speak(ctx, text, ok)
			if err != nil {
				fail("%v", err)
				return
			}
			var wg sync.WaitGroup
			for range 3 {
				wg.Go(func() {
					got, err := speak(ctx, text, ok)
					if err != nil {
						fail("%v", err)
					} else if got < want*4/5 || got > want*6/5 {
						// ±20%: a voice that samples its timing, as Piper
						// does, differs by up to about 13% between takes;
						// cross-talk halves or doubles a call.
						fail("concurrent call made %d samples, a lone one %d", got, want)
					}
				})
			}
			wg.Wait()
		}},
		{"blank text", func(ctx context.Context, fail failFunc) {
			if _, err := speak(ctx, " \n\t", ok); err != nil {
				fail("blank text: %v", err)
			}
		}},
	})
}
