package conformance

import (
	"context"
	"fmt"
	"io"
	"math"
	"slices"
	"sync"

	"github.com/voicegate/voicegate/audio"
	"github.com/voicegate/voicegate/audio/vad"
	"github.com/voicegate/voicegate/pipeline"
)

// TestVoiceActivity checks va against the VoiceActivity contract, given
// speech, a clip of 16 kHz speech of at least half a second: a Classifier's
// window is 1 sample to 1 s; its probabilities are within 0 and 1; two
// seconds of silence hold no speech window; a Detector over it finds the
// speech when silence surrounds it, and ends it; Speech leaves its window
// as it was; classifiers made by one VoiceActivity are independent, also
// used concurrently; after Reset a classifier decides as a new one does;
// Close, where there is one, is idempotent. It returns nil, or an error
// joining every failed check.
func TestVoiceActivity(ctx context.Context, va pipeline.VoiceActivity, speech []int16) error {
	if len(speech) < audio.Mono16k.SampleRate/2 {
		return fmt.Errorf("TestVoiceActivity: %d samples of speech, want at least half a second", len(speech))
	}
	second := audio.Mono16k.SampleRate
	silence := make([]int16, 2*second)
	scene := slices.Concat(silence, speech, silence)
	noise := make([]int16, second)
	for i := range noise { // a full-scale square wave: loud, and not speech
		noise[i] = math.MaxInt16 * int16(1-2*((i/40)%2))
	}

	// open makes a classifier and what releases it; failures go to fail.
	open := func(fail failFunc) (vad.Classifier, func()) {
		c, err := va.NewClassifier()
		if err != nil || c == nil {
			fail("NewClassifier: %v, %v", c, err)
			return nil, nil
		}
		return c, func() {
			if cl, ok := c.(io.Closer); ok {
				cl.Close()
			}
		}
	}
	// decisions runs x through c in windows.
	decisions := func(c vad.Classifier, x []int16) []float32 {
		w := c.Window()
		var out []float32
		for i := 0; i+w <= len(x); i += w {
			out = append(out, c.Speech(x[i:i+w]))
		}
		return out
	}

	return run(ctx, "TestVoiceActivity", []check{
		{"window and probabilities", func(_ context.Context, fail failFunc) {
			c, release := open(fail)
			if c == nil {
				return
			}
			defer release()
			if w := c.Window(); w < 1 || w > second {
				fail("Window() = %d samples, want 1 to %d", w, second)
				return
			}
			for name, x := range map[string][]int16{"silence": silence, "speech": scene, "a square wave": noise} {
				for i, p := range decisions(c, x) {
					if !(p >= 0 && p <= 1) {
						fail("%s: window %d has probability %v", name, i, p)
						break
					}
				}
			}
		}},
		{"silence is not speech", func(_ context.Context, fail failFunc) {
			c, release := open(fail)
			if c == nil {
				return
			}
			defer release()
			for i, p := range decisions(c, silence) {
				if p >= vad.SpeechProb {
					fail("window %d of silence has probability %v", i, p)
					return
				}
			}
		}},
		{"speech is found", func(_ context.Context, fail failFunc) {
			c, release := open(fail)
			if c == nil {
				return
			}
			defer release()
			d := vad.NewWith(vad.Config{}, second, c)
			var events []vad.Event
			for i := 0; i < len(scene); i += 320 {
				if e := d.Process(scene[i:min(i+320, len(scene))]); e != vad.None {
					events = append(events, e)
				}
			}
			if !slices.Equal(events, []vad.Event{vad.SpeechStart, vad.SpeechEnd}) {
				fail("events %v in silence, speech, silence; want one start and one end", events)
			}
		}},
		{"window left as it was", func(_ context.Context, fail failFunc) {
			c, release := open(fail)
			if c == nil {
				return
			}
			defer release()
			w := slices.Clone(speech[:min(len(speech), c.Window())])
			c.Speech(w)
			if !slices.Equal(w, speech[:len(w)]) {
				fail("Speech modified its window")
			}
		}},
		{"independent and concurrent", func(_ context.Context, fail failFunc) {
			c, release := open(fail)
			if c == nil {
				return
			}
			want := decisions(c, scene)
			release()
			var wg sync.WaitGroup
			for range 3 {
				wg.Go(func() {
					c, release := open(fail)
					if c == nil {
						return
					}
					defer release()
					if got := decisions(c, scene); !slices.Equal(got, want) {
						fail("a classifier used beside others decides otherwise than one alone")
					}
				})
			}
			wg.Wait()
		}},
		{"reset", func(_ context.Context, fail failFunc) {
			c, release := open(fail)
			if c == nil {
				return
			}
			defer release()
			first := decisions(c, scene)
			c.Reset()
			if again := decisions(c, scene); !slices.Equal(first, again) {
				fail("after Reset the decisions differ from a new classifier's")
			}
		}},
		{"close is idempotent", func(_ context.Context, fail failFunc) {
			c, _ := open(fail)
			cl, ok := c.(io.Closer)
			if !ok {
				return
			}
			if err := cl.Close(); err != nil {
				fail("Close: %v", err)
			}
			if err := cl.Close(); err != nil {
				fail("second Close: %v", err)
			}
		}},
	})
}
