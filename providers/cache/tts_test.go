package cache_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"
	"go.uber.org/zap"

	"github.com/voicegate/voicegate/audio"
	"github.com/voicegate/voicegate/pipeline"
	"github.com/voicegate/voicegate/pipeline/conformance"
	"github.com/voicegate/voicegate/pipeline/pipelinetest"
	"github.com/voicegate/voicegate/providers/cache"
)

func TestMain(m *testing.M) {
	cache.SetRedisLogger(zap.NewNop())
	// The Redis client's probe of a server that refused it sleeps a
	// second between dials and ends at the next one after Close.
	goleak.VerifyTestMain(m, goleak.IgnoreAnyFunction("github.com/redis/go-redis/v9/internal/pool.(*ConnPool).tryDial"))
}

// counting is a synthesizer that counts its calls, in voices: each voice's
// tone has its own pitch-free length (a voice "slow" makes twice the
// audio), so replayed audio can be told apart by voice.
type counting struct {
	inner pipeline.Synthesizer
	voice string
	calls *atomic.Int32
	fail  error // returned instead of synthesizing
}

func newCounting(inner pipeline.Synthesizer) *counting {
	return &counting{inner: inner, calls: new(atomic.Int32)}
}

func (c *counting) Name() string         { return pipeline.NameOf(c.inner) }
func (c *counting) Format() audio.Format { return c.inner.Format() }

func (c *counting) Synthesize(ctx context.Context, text string, emit func([]int16) error) error {
	c.calls.Add(1)
	if c.fail != nil {
		return c.fail
	}
	if c.voice == "slow" {
		text += text
	}
	return c.inner.Synthesize(ctx, text, emit)
}

// voiced is a counting synthesizer with voices.
type voiced struct{ *counting }

func (v voiced) WithVoice(voice string) (pipeline.Synthesizer, error) {
	if voice != "slow" && voice != "fast" {
		return nil, fmt.Errorf("no voice %q (slow, fast)", voice)
	}
	c := *v.counting
	c.voice = voice
	return voiced{&c}, nil
}

func ttsConfig() cache.TTSConfig {
	c := cache.DefaultConfig().TTS
	return c
}

func speak(ctx context.Context, s pipeline.Synthesizer, text string) ([]int16, error) {
	var out []int16
	err := s.Synthesize(ctx, text, func(pcm []int16) error {
		out = append(out, pcm...)
		return nil
	})
	return out, err
}

func wrapTTS(t *testing.T, inner pipeline.Synthesizer, c cache.TTSConfig, o cache.Options) pipeline.Synthesizer {
	t.Helper()
	s, err := cache.Synthesizer(inner, c, o)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSynthesizerCaches(t *testing.T) {
	tone := &pipelinetest.Tone{PerRune: 10 * time.Millisecond}
	cut := errors.New("client went away")
	type step struct {
		text    string
		voice   string
		advance time.Duration
		cancel  bool  // cancel the context after the first emit
		emitErr error // emit fails on its first call
		fail    error // the provider fails
	}
	tests := []struct {
		name  string
		conf  func(*cache.TTSConfig)
		steps []step
		calls int32 // provider calls in all
	}{
		{name: "same sentence twice", steps: []step{{text: "Hello there."}, {text: "Hello there."}}, calls: 1},
		{name: "two sentences", steps: []step{{text: "Hello there."}, {text: "Goodbye."}, {text: "Hello there."}, {text: "Goodbye."}}, calls: 2},
		{name: "voices are distinct", steps: []step{
			{text: "Hello there."}, {text: "Hello there.", voice: "slow"}, {text: "Hello there.", voice: "fast"},
			{text: "Hello there.", voice: "slow"}, {text: "Hello there."},
		}, calls: 3},
		{name: "cancelled is not stored", steps: []step{{text: "Hello there.", cancel: true}, {text: "Hello there."}, {text: "Hello there."}}, calls: 2},
		{name: "failed emit is not stored", steps: []step{{text: "Hello there.", emitErr: cut}, {text: "Hello there."}, {text: "Hello there."}}, calls: 2},
		{name: "provider error is not stored", steps: []step{{text: "Hello there.", fail: pipeline.ErrUnavailable}, {text: "Hello there."}, {text: "Hello there."}}, calls: 2},
		{name: "expires after ttl", steps: []step{{text: "Hello there."}, {advance: 23 * time.Hour}, {text: "Hello there."}, {advance: time.Hour}, {text: "Hello there."}}, calls: 2},
		{name: "too long a sentence is not stored", conf: func(c *cache.TTSConfig) { c.MaxEntry = 100 * time.Millisecond },
			steps: []step{{text: "Hello there."}, {text: "Hello there."}, {text: "Hi."}, {text: "Hi."}}, calls: 3},
		{name: "evicted when full", conf: func(c *cache.TTSConfig) { c.MaxBytes = 6000 }, // ~one sentence of 120 ms at 16 kHz
			steps: []step{{text: "Hello there."}, {text: "Goodbye now."}, {text: "Hello there."}}, calls: 3},
		{name: "blank text is not cached", steps: []step{{text: "  "}, {text: "  "}}, calls: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := &fakeClock{t: time.Unix(1e9, 0)}
			conf := ttsConfig()
			if tt.conf != nil {
				tt.conf(&conf)
			}
			inner := newCounting(tone)
			base := wrapTTS(t, voiced{inner}, conf, cache.Options{Now: clk.now})
			want := map[string][]int16{} // what a lone provider makes, by voice and text
			for i, st := range tt.steps {
				if st.advance != 0 {
					clk.advance(st.advance)
					continue
				}
				inner.fail = st.fail
				s := base
				if st.voice != "" {
					var err error
					if s, err = base.(pipeline.Voiced).WithVoice(st.voice); err != nil {
						t.Fatal(err)
					}
				}
				ctx, cancel := context.WithCancel(t.Context())
				var got []int16
				emits := 0
				err := s.Synthesize(ctx, st.text, func(pcm []int16) error {
					emits++
					got = append(got, pcm...)
					if st.cancel {
						cancel()
					}
					if st.emitErr != nil {
						return st.emitErr
					}
					return nil
				})
				cancel()
				inner.fail = nil
				switch {
				case st.cancel:
					if !errors.Is(err, context.Canceled) {
						t.Fatalf("step %d: cancelled call returned %v", i, err)
					}
					continue
				case st.emitErr != nil:
					if !errors.Is(err, st.emitErr) || emits != 1 {
						t.Fatalf("step %d: returned %v after %d emits, want emit's error after 1", i, err, emits)
					}
					continue
				case st.fail != nil:
					if !errors.Is(err, st.fail) {
						t.Fatalf("step %d: returned %v, want the provider's error", i, err)
					}
					continue
				case err != nil:
					t.Fatalf("step %d: %v", i, err)
				}
				k := st.voice + "|" + st.text
				if w, ok := want[k]; ok && !slices.Equal(got, w) {
					t.Fatalf("step %d: %d samples, the first time %d: the replay differs", i, len(got), len(w))
				}
				want[k] = got
			}
			if got := inner.calls.Load(); got != tt.calls {
				t.Errorf("provider called %d times, want %d", got, tt.calls)
			}
		})
	}
}

// fakeClock is a settable clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func TestSynthesizerKeepsTheProvider(t *testing.T) {
	plain := wrapTTS(t, &pipelinetest.Tone{Rate: 24000}, ttsConfig(), cache.Options{})
	if _, ok := plain.(pipeline.Voiced); ok {
		t.Error("a cache over a one-voice synthesizer offers voices")
	}
	if got := pipeline.NameOf(plain); got != "tone" {
		t.Errorf("Name %q, want the provider's", got)
	}
	if got := plain.Format(); got != (audio.Format{SampleRate: 24000, Channels: 1}) {
		t.Errorf("Format %v", got)
	}
	v := wrapTTS(t, voiced{newCounting(&pipelinetest.Tone{})}, ttsConfig(), cache.Options{})
	if _, err := v.(pipeline.Voiced).WithVoice("loud"); err == nil || !strings.Contains(err.Error(), "slow, fast") {
		t.Errorf("unknown voice: %v, want the provider's error", err)
	}
}

// TestSynthesizerReportsHits: a turn served from the cache names "cache"
// as its TTS provider; one the provider answered names none of its own.
func TestSynthesizerReportsHits(t *testing.T) {
	s := wrapTTS(t, &pipelinetest.Tone{}, ttsConfig(), cache.Options{})
	for i, want := range []string{"", cache.Name} {
		var turn pipeline.Turn
		if _, err := speak(turn.StageContext(t.Context(), pipeline.StageTTS), s, "Welcome back."); err != nil {
			t.Fatal(err)
		}
		if got := turn.AnsweredBy(pipeline.StageTTS); got != want {
			t.Errorf("call %d: answered by %q, want %q", i, got, want)
		}
	}
}

func TestSynthesizerReplaysInChunks(t *testing.T) {
	tone := &pipelinetest.Tone{Chunk: 500 * time.Millisecond, PerRune: 100 * time.Millisecond}
	s := wrapTTS(t, tone, ttsConfig(), cache.Options{})
	if _, err := speak(t.Context(), s, "Hello there."); err != nil {
		t.Fatal(err)
	}
	var sizes []int
	if err := s.Synthesize(t.Context(), "Hello there.", func(pcm []int16) error {
		sizes = append(sizes, len(pcm))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	chunk := audio.Mono16k.Samples(40 * time.Millisecond)
	for i, n := range sizes {
		if n > chunk || (n < chunk && i != len(sizes)-1) {
			t.Fatalf("replay chunks %v, want %d samples each but the last", sizes, chunk)
		}
	}
	if total := audio.Mono16k.Duration(len(sizes)*chunk) - audio.Mono16k.Duration(chunk); total > tone.Duration("Hello there.") {
		t.Fatalf("replayed %d chunks for %v of audio", len(sizes), tone.Duration("Hello there."))
	}
	// A barge-in during a replay stops it at once.
	ctx, cancel := context.WithCancel(t.Context())
	emits := 0
	err := s.Synthesize(ctx, "Hello there.", func([]int16) error {
		emits++
		cancel()
		return nil
	})
	if !errors.Is(err, context.Canceled) || emits != 1 {
		t.Fatalf("cancelled replay: %v after %d emits", err, emits)
	}
}

// TestSynthesizerConforms runs the provider suite over the cache, twice:
// the second run is served from it.
func TestSynthesizerConforms(t *testing.T) {
	inner := newCounting(&pipelinetest.Tone{})
	s := wrapTTS(t, inner, ttsConfig(), cache.Options{})
	for run := range 2 {
		if err := conformance.TestSynthesizer(t.Context(), s); err != nil {
			t.Fatalf("run %d: %v", run, err)
		}
	}
	first := inner.calls.Load()
	if err := conformance.TestSynthesizer(t.Context(), s); err != nil {
		t.Fatal(err)
	}
	// Only the calls that are cut reach the provider again.
	if again := inner.calls.Load() - first; again >= first/2 {
		t.Errorf("a third run called the provider %d times, the first two %d", again, first)
	}
}

// TestSynthesizerConcurrent: many sessions saying a few sentences at once
// get the audio a lone call makes, and the provider is asked at most once
// per session and sentence (misses are not coalesced).
func TestSynthesizerConcurrent(t *testing.T) {
	inner := newCounting(&pipelinetest.Tone{PerRune: 5 * time.Millisecond})
	reg := prometheus.NewRegistry()
	m, err := cache.NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	s := wrapTTS(t, inner, ttsConfig(), cache.Options{Metrics: m})
	sentences := []string{"Hello.", "How can I help?", "One moment please.", "Goodbye."}
	want := map[string][]int16{}
	for _, text := range sentences {
		pcm, err := speak(t.Context(), &pipelinetest.Tone{PerRune: 5 * time.Millisecond}, text)
		if err != nil {
			t.Fatal(err)
		}
		want[text] = pcm
	}
	const sessions, rounds = 8, 20
	var wg sync.WaitGroup
	errs := make(chan error, sessions)
	for i := range sessions {
		wg.Go(func() {
			for r := range rounds {
				text := sentences[(i+r)%len(sentences)]
				got, err := speak(t.Context(), s, text)
				if err != nil || !slices.Equal(got, want[text]) {
					errs <- fmt.Errorf("session %d round %d: %d samples (want %d), %v", i, r, len(got), len(want[text]), err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if calls := inner.calls.Load(); calls < int32(len(sentences)) || calls > sessions*int32(len(sentences)) {
		t.Errorf("provider called %d times for %d sentences and %d sessions", calls, len(sentences), sessions)
	}
	hits := metric(t, reg, "voicegate_cache_hits_total", "cache", "tts", "tier", "memory")
	misses := metric(t, reg, "voicegate_cache_misses_total", "cache", "tts")
	if hits+misses != sessions*rounds || misses != float64(inner.calls.Load()) {
		t.Errorf("%v hits and %v misses for %d calls, %d of them the provider's", hits, misses, sessions*rounds, inner.calls.Load())
	}
}
