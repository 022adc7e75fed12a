package fallback_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/voicegate/voicegate/audio"
	"github.com/voicegate/voicegate/pipeline"
	asropenai "github.com/voicegate/voicegate/providers/asr/openai"
	"github.com/voicegate/voicegate/providers/fallback"
	"github.com/voicegate/voicegate/providers/httpx"
	llmopenai "github.com/voicegate/voicegate/providers/llm/openai"
	ttsopenai "github.com/voicegate/voicegate/providers/tts/openai"
)

// The chains below run real providers against httptest servers speaking
// the OpenAI wire format. (Importing sibling providers is fine in an
// external test package; fallback itself imports none.)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func server(t *testing.T, h http.HandlerFunc) (*httptest.Server, *atomic.Int32) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		h(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv, &hits
}

func down(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(503)
	_, _ = io.WriteString(w, `{"error":{"message":"The engine is currently overloaded","type":"server_error"}}`)
}

func sse(text string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		_, _ = io.WriteString(w, `data: {"choices":[{"index":0,"delta":{"content":"`+text+`"},"finish_reason":null}]}`+"\n\n")
		_, _ = io.WriteString(w, `data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}`+"\n\ndata: [DONE]\n\n")
	}
}

func observed() (*zap.Logger, *observer.ObservedLogs) {
	core, logs := observer.New(zap.WarnLevel)
	return zap.New(core), logs
}

func llm(t *testing.T, name, url string) pipeline.Generator {
	g, err := llmopenai.New(llmopenai.Config{
		Config: httpx.Config{Name: name, BaseURL: url, MaxRetries: -1, BreakerCoolDown: time.Minute},
		Model:  "m",
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Close() })
	return g
}

func generate(g pipeline.Generator, ctx context.Context) (string, error) {
	var b strings.Builder
	err := g.Generate(ctx, []pipeline.Message{{Role: pipeline.RoleUser, Content: "hi"}}, func(d string) error {
		b.WriteString(d)
		return nil
	})
	return b.String(), err
}

func TestGeneratorFallsBack(t *testing.T) {
	primary, primaryHits := server(t, down)
	secondary, _ := server(t, sse("from groq"))
	log, logs := observed()
	g, err := fallback.Generator(log, llm(t, "openai", primary.URL), llm(t, "groq", secondary.URL))
	if err != nil {
		t.Fatal(err)
	}
	if name := pipeline.NameOf(g); name != "openai:m>groq:m" {
		t.Fatalf("chain name %q", name)
	}
	// Three calls: three 503s open the primary's breaker.
	for range 3 {
		var turn pipeline.Turn
		if text, err := generate(g, turn.StageContext(context.Background(), pipeline.StageLLM)); err != nil || text != "from groq" {
			t.Fatalf("%q, %v", text, err)
		}
		if who := turn.AnsweredBy(pipeline.StageLLM); who != "groq:m" {
			t.Fatalf("answered by %q, want the second", who)
		}
	}
	// Now the primary fails fast, without a request, and the chain still answers.
	start := time.Now()
	text, err := generate(g, context.Background())
	if err != nil || text != "from groq" || primaryHits.Load() != 3 {
		t.Fatalf("%q, %v, primary hit %d times", text, err, primaryHits.Load())
	}
	t.Logf("fallback past an open breaker answered in %v", time.Since(start))
	warn := logs.FilterMessage("provider failed; falling back").All()
	if len(warn) != 4 || warn[0].ContextMap()["from"] != "openai:m" || warn[0].ContextMap()["to"] != "groq:m" {
		t.Fatalf("warnings %v", warn)
	}
	if !strings.Contains(warn[3].ContextMap()["error"].(string), "circuit breaker open") {
		t.Fatalf("last warning %v", warn[3].ContextMap())
	}
}

func TestGeneratorNeverSwitchesAfterOutput(t *testing.T) {
	primary, _ := server(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		_, _ = io.WriteString(w, `data: {"choices":[{"index":0,"delta":{"content":"Hel"},"finish_reason":null}]}`+"\n\n")
		w.(http.Flusher).Flush()
		conn, _, _ := w.(http.Hijacker).Hijack()
		conn.Close()
	})
	secondary, secondaryHits := server(t, sse("other"))
	g, _ := fallback.Generator(nil, llm(t, "a", primary.URL), llm(t, "b", secondary.URL))
	text, err := generate(g, context.Background())
	if text != "Hel" || !errors.Is(err, pipeline.ErrBadResponse) || secondaryHits.Load() != 0 {
		t.Fatalf("%q, %v, secondary hit %d", text, err, secondaryHits.Load())
	}
}

func TestGeneratorAllFailAndCancel(t *testing.T) {
	a, _ := server(t, down)
	b, _ := server(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(401)
		_, _ = io.WriteString(w, `{"error":{"message":"Invalid API Key"}}`)
	})
	g, _ := fallback.Generator(nil, llm(t, "a", a.URL), llm(t, "b", b.URL))
	_, err := generate(g, context.Background())
	if !errors.Is(err, pipeline.ErrRejected) || !strings.Contains(err.Error(), "a:m: ") || !strings.Contains(err.Error(), "Invalid API Key") {
		t.Fatalf("err = %v", err)
	}

	var calls atomic.Int32
	ctx, cancel := context.WithCancel(context.Background())
	first := pipeline.GeneratorFunc(func(ctx context.Context, _ []pipeline.Message, _ func(string) error) error {
		cancel()
		return ctx.Err()
	})
	second := pipeline.GeneratorFunc(func(context.Context, []pipeline.Message, func(string) error) error {
		calls.Add(1)
		return nil
	})
	g, _ = fallback.Generator(nil, first, second)
	if _, err := generate(g, ctx); !errors.Is(err, context.Canceled) || calls.Load() != 0 {
		t.Fatalf("err %v, second called %d times", err, calls.Load())
	}
}

func tts(t *testing.T, name, url string, rate int) pipeline.Synthesizer {
	s, err := ttsopenai.New(ttsopenai.Config{
		Config: httpx.Config{Name: name, BaseURL: url},
		Model:  "tts-1", Voice: "alloy", SampleRate: rate,
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestSynthesizerFallsBackAndResamples(t *testing.T) {
	primary, primaryHits := server(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "30") // longer than we wait: fail now
		w.WriteHeader(429)
		_, _ = io.WriteString(w, `{"error":{"message":"Rate limit reached for tts-1"}}`)
	})
	// Kokoro-like at 24 kHz would match; this one speaks 16 kHz.
	secondary, _ := server(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "audio/pcm")
		pcm := make([]int16, 16000) // 1 s
		for i := range pcm {
			pcm[i] = int16(i % 1000)
		}
		_, _ = w.Write(audio.EncodePCM16(nil, pcm))
	})
	log, logs := observed()
	s, err := fallback.Synthesizer(log, tts(t, "openai", primary.URL, 24000), tts(t, "local", secondary.URL, 16000))
	if err != nil {
		t.Fatal(err)
	}
	if s.Format() != audio.Mono24k {
		t.Fatalf("format %v, want the first provider's", s.Format())
	}
	n := 0
	var turn pipeline.Turn
	if err := s.Synthesize(turn.StageContext(context.Background(), pipeline.StageTTS), "Hello.", func(pcm []int16) error { n += len(pcm); return nil }); err != nil {
		t.Fatal(err)
	}
	if n < 23900 || n > 24100 || primaryHits.Load() != 1 {
		t.Fatalf("%d samples at 24 kHz for 1 s of 16 kHz audio (primary hit %d)", n, primaryHits.Load())
	}
	if who := turn.AnsweredBy(pipeline.StageTTS); who != "local:tts-1" {
		t.Fatalf("answered by %q", who)
	}
	if logs.FilterMessage("provider failed; falling back").Len() != 1 {
		t.Fatal("fallback not logged")
	}
}

func TestSynthesizerNeverSwitchesAfterAudio(t *testing.T) {
	primary, _ := server(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "audio/pcm")
		_, _ = w.Write(make([]byte, 4800))
		w.(http.Flusher).Flush()
		conn, _, _ := w.(http.Hijacker).Hijack()
		conn.Close()
	})
	secondary, secondaryHits := server(t, func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write(make([]byte, 100)) })
	s, _ := fallback.Synthesizer(nil, tts(t, "a", primary.URL, 24000), tts(t, "b", secondary.URL, 24000))
	n := 0
	err := s.Synthesize(context.Background(), "Hello.", func(pcm []int16) error { n += len(pcm); return nil })
	if n != 2400 || !errors.Is(err, pipeline.ErrBadResponse) || secondaryHits.Load() != 0 {
		t.Fatalf("%d samples, err %v, secondary hit %d", n, err, secondaryHits.Load())
	}
}

func asr(t *testing.T, name, url string) pipeline.Recognizer {
	r, err := asropenai.New(asropenai.Config{Config: httpx.Config{Name: name, BaseURL: url, MaxRetries: -1}, Model: "whisper-1"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

func TestRecognizerFallsBackWithTheWholeUtterance(t *testing.T) {
	primary, _ := server(t, down)
	var uploaded atomic.Int64
	secondary, _ := server(t, func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseMultipartForm(8 << 20); err != nil {
			t.Error(err)
		}
		uploaded.Store(r.MultipartForm.File["file"][0].Size)
		_, _ = io.WriteString(w, `{"text":"hello from the backup"}`)
	})
	log, logs := observed()
	rec, err := fallback.Recognizer(log, asr(t, "openai", primary.URL), asr(t, "speaches", secondary.URL))
	if err != nil {
		t.Fatal(err)
	}
	var turn pipeline.Turn
	ctx := turn.StageContext(context.Background(), pipeline.StageASR)
	u, err := rec.Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	frame := make([]int16, 320)
	for range 50 { // 1 s
		if _, err := u.Write(frame); err != nil {
			t.Fatal(err)
		}
	}
	text, err := u.Finish(ctx)
	if err != nil || text != "hello from the backup" {
		t.Fatalf("%q, %v", text, err)
	}
	if who := turn.AnsweredBy(pipeline.StageASR); who != "speaches:whisper-1" {
		t.Fatalf("answered by %q", who)
	}
	if uploaded.Load() != 44+32000 {
		t.Fatalf("backup got a %d-byte WAV, want the whole second", uploaded.Load())
	}
	if logs.Len() != 1 || logs.All()[0].ContextMap()["stage"] != "asr" {
		t.Fatalf("logs %v", logs.All())
	}
}

// failingWrite is an utterance whose engine dies mid-stream.
type failingWrite struct{ writes int }

func (f *failingWrite) Write([]int16) (string, error) {
	if f.writes++; f.writes == 3 {
		return "", errors.New("engine crashed")
	}
	return "partial", nil
}
func (f *failingWrite) Finish(context.Context) (string, error) { return "never", nil }
func (f *failingWrite) Close() error                           { return nil }

func TestRecognizerSwitchesOnWriteError(t *testing.T) {
	first := pipeline.RecognizerFunc(func(context.Context) (pipeline.Utterance, error) { return &failingWrite{}, nil })
	backup, _ := server(t, func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseMultipartForm(8 << 20)
		if size := r.MultipartForm.File["file"][0].Size; size != 44+2*1600*4 {
			t.Errorf("backup got %d bytes", size)
		}
		_, _ = io.WriteString(w, `{"text":"ok"}`)
	})
	rec, _ := fallback.Recognizer(nil, first, asr(t, "openai", backup.URL))
	u, _ := rec.Start(context.Background())
	defer u.Close()
	var partials []string
	for range 4 {
		p, err := u.Write(make([]int16, 1600))
		if err != nil {
			t.Fatal(err)
		}
		partials = append(partials, p)
	}
	text, err := u.Finish(context.Background())
	if err != nil || text != "ok" || partials[0] != "partial" || partials[2] != "" {
		t.Fatalf("%q, %v, partials %q", text, err, partials)
	}
}

func TestEmptyChainAndSingle(t *testing.T) {
	if _, err := fallback.Generator(nil); err == nil {
		t.Fatal("empty chain accepted")
	}
	one := pipeline.GeneratorFunc(func(context.Context, []pipeline.Message, func(string) error) error { return nil })
	g, _ := fallback.Generator(nil, one)
	if _, ok := g.(pipeline.GeneratorFunc); !ok {
		t.Fatal("a chain of one should be the provider itself")
	}
}

// oneVoice is a synthesizer without voices.
type oneVoice struct{ pipeline.Synthesizer }

// TestSynthesizerWithVoice: the chain's voice is its members' that have
// it; with none, an error names each member's reason.
func TestSynthesizerWithVoice(t *testing.T) {
	srv, _ := server(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "audio/pcm")
		_, _ = w.Write(audio.EncodePCM16(nil, make([]int16, 2400)))
	})
	plain := oneVoice{tts(t, "plain", srv.URL, 24000)}
	s, err := fallback.Synthesizer(nil, plain, tts(t, "voiced", srv.URL, 24000))
	if err != nil {
		t.Fatal(err)
	}
	v, err := s.(pipeline.Voiced).WithVoice("nova")
	if err != nil {
		t.Fatal(err)
	}
	if name := pipeline.NameOf(v); name != "voiced:tts-1" {
		t.Fatalf("chain with voice nova: %q, want the one member that has voices", name)
	}
	only, err := fallback.Synthesizer(nil, plain, oneVoice{tts(t, "other", srv.URL, 24000)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := only.(pipeline.Voiced).WithVoice("nova"); err == nil || !strings.Contains(err.Error(), "speaks in one voice") {
		t.Fatalf("chain without voices: %v", err)
	}
}
