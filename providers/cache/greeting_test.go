package cache_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/voicegate/voicegate/pipeline"
	"github.com/voicegate/voicegate/pipeline/pipelinetest"
	"github.com/voicegate/voicegate/providers/cache"
	"github.com/voicegate/voicegate/providers/llm/echo"
	"github.com/voicegate/voicegate/providers/tts/flite"
)

// engine is the synthesizer the greeting test measures: Flite, the
// offline default, when this build has it; else a tone that takes as long
// as Flite to begin.
func engine(t *testing.T) pipeline.Synthesizer {
	if flite.Available() {
		s, err := flite.New(flite.Config{})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	t.Log("this build has no Flite (cgo off): measuring a tone with 15 ms of latency")
	return &pipelinetest.Tone{Latency: 15 * time.Millisecond, Realtime: true}
}

// firstAudio says text through s in a turn and returns how long the first
// audio took, the audio, and who answered.
func firstAudio(t *testing.T, s pipeline.Synthesizer, text string) (time.Duration, []int16, string) {
	var turn pipeline.Turn
	ctx := turn.StageContext(t.Context(), pipeline.StageTTS)
	var first time.Duration
	var pcm []int16
	start := time.Now()
	err := s.Synthesize(ctx, text, func(p []int16) error {
		if first == 0 {
			first = time.Since(start)
		}
		pcm = append(pcm, p...)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return first, pcm, turn.AnsweredBy(pipeline.StageTTS)
}

// TestCacheGreeting: the same greeting twice, through the real engine: the
// second is served from the cache (the engine is not called again), the
// same audio, and its first audio comes sooner. It prints both figures,
// the medians over a few greetings:
//
//	go test -run TestCacheGreeting -v ./providers/cache/
func TestCacheGreeting(t *testing.T) {
	inner := newCounting(engine(t))
	s := wrapTTS(t, inner, ttsConfig(), cache.Options{})
	greetings := []string{
		"Hello, thanks for calling. How can I help you today?",
		"Good morning! You are through to the voice assistant.",
		"Welcome back. Shall we pick up where we left off?",
		"Hi there, one moment while I look that up for you.",
		"Thanks for waiting. I am ready when you are.",
	}
	var miss, hit []time.Duration
	for _, g := range greetings {
		calls := inner.calls.Load()
		m, made, by := firstAudio(t, s, g)
		if by != "" {
			t.Fatalf("%q the first time: answered by %q", g, by)
		}
		h, replayed, by := firstAudio(t, s, g)
		if by != cache.Name {
			t.Fatalf("%q the second time: answered by %q, want %q", g, by, cache.Name)
		}
		if got := inner.calls.Load() - calls; got != 1 {
			t.Fatalf("%q twice: the engine was called %d times, want once", g, got)
		}
		if !slices.Equal(made, replayed) {
			t.Fatalf("%q: replayed %d samples, made %d", g, len(replayed), len(made))
		}
		miss, hit = append(miss, m), append(hit, h)
	}
	slices.Sort(miss)
	slices.Sort(hit)
	mm, hm := miss[len(miss)/2], hit[len(hit)/2]
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	t.Logf("first audio: miss %.2f ms, hit %.3f ms (%s, median of %d greetings)", ms(mm), ms(hm), pipeline.NameOf(s), len(greetings))
	if hm >= mm {
		t.Errorf("a hit's first audio took %v, a miss's %v", hm, mm)
	}
}

// TestCacheInASession: a session answers the same words twice; the second
// reply's audio is served from the cache, its trace names the cache as the
// TTS provider, and its sentence reaches audio sooner.
func TestCacheInASession(t *testing.T) {
	inner := newCounting(&pipelinetest.Tone{Latency: 30 * time.Millisecond})
	tts := wrapTTS(t, inner, ttsConfig(), cache.Options{})
	sess, err := pipeline.NewSession(pipeline.Config{
		Stages:       pipeline.Stages{ASR: pipelinetest.NewScripted(""), LLM: &echo.Echo{}, TTS: tts},
		Conversation: pipeline.NewConversation("", 0),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	rec := pipelinetest.NewRecorder()
	done := make(chan error, 1)
	go func() { done <- sess.Run(ctx, rec) }()
	defer func() { cancel(); <-done }()
	var traces []*pipeline.Trace
	from := 0
	for range 2 {
		if err := sess.SubmitText("Good morning."); err != nil {
			t.Fatal(err)
		}
		lat, i, err := rec.Wait(ctx, from, pipelinetest.Kind(pipeline.EventTurnLatency))
		if err != nil {
			t.Fatal(err)
		}
		if lat.Reason != 0 || lat.Trace == nil {
			t.Fatalf("turn ended with %v", lat.Reason)
		}
		traces, from = append(traces, lat.Trace), i+1
	}
	if traces[0].TTS != "tone" || traces[1].TTS != cache.Name {
		t.Fatalf("TTS answered by %q, then %q; want tone, then %s", traces[0].TTS, traces[1].TTS, cache.Name)
	}
	if inner.calls.Load() != 1 {
		t.Fatalf("the engine was called %d times for one sentence said twice", inner.calls.Load())
	}
	synth := func(tr *pipeline.Trace) time.Duration { return tr.TTSFirstAudio.Sub(tr.FirstSentence) }
	if synth(traces[1]) >= synth(traces[0]) || synth(traces[0]) < 30*time.Millisecond {
		t.Fatalf("sentence to first audio: %v, then %v", synth(traces[0]), synth(traces[1]))
	}
}

// BenchmarkCacheHit is one cached sentence replayed (its first audio is
// what TestCacheGreeting reports).
func BenchmarkCacheHit(b *testing.B) {
	s, err := cache.Synthesizer(&pipelinetest.Tone{}, cache.DefaultConfig().TTS, cache.Options{})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	emit := func([]int16) error { return nil }
	if err := s.Synthesize(ctx, "Hello, thanks for calling.", emit); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := s.Synthesize(ctx, "Hello, thanks for calling.", emit); err != nil {
			b.Fatal(err)
		}
	}
}
