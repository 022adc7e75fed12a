package openai

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	goopenai "github.com/sashabaranov/go-openai"
	"go.uber.org/goleak"

	"github.com/voicegate/voicegate/pipeline"
	"github.com/voicegate/voicegate/pipeline/conformance"
	"github.com/voicegate/voicegate/providers/httpx"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// rawQuote quotes s as JSON the way OpenAI does: UTF-8 bytes as they are,
// including any invalid ones.
func rawQuote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < 0x20:
			fmt.Fprintf(&b, `\u%04x`, c)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// asciiQuote quotes s the way Python's json.dumps does (ensure_ascii):
// everything above ASCII as \u escapes, astral runes as surrogate pairs.
func asciiQuote(s string) string {
	b, _ := json.Marshal(s)
	var out strings.Builder
	for _, r := range string(b) {
		switch {
		case r < 0x80:
			out.WriteRune(r)
		case r > 0xFFFF:
			r -= 0x10000
			fmt.Fprintf(&out, `\u%04x\u%04x`, 0xD800+(r>>10), 0xDC00+(r&0x3FF))
		default:
			fmt.Fprintf(&out, `\u%04x`, r)
		}
	}
	return out.String()
}

// event is one SSE chat.completion.chunk carrying a pre-quoted content.
func event(quoted string, finish string) string {
	fr := "null"
	if finish != "" {
		fr = `"` + finish + `"`
	}
	return `data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":` +
		quoted + `},"logprobs":null,"finish_reason":` + fr + "}]}\n\n"
}

const done = "data: [DONE]\n\n"

// writeSplit writes s in pieces of n bytes, flushing after each, so that
// pieces end inside "data:", inside JSON and inside multi-byte runes.
func writeSplit(w http.ResponseWriter, s string, n int) {
	f := w.(http.Flusher)
	for len(s) > 0 {
		k := min(n, len(s))
		_, _ = io.WriteString(w, s[:k])
		f.Flush()
		s = s[k:]
		time.Sleep(100 * time.Microsecond)
	}
}

func sseHeaders(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
}

func newGenerator(t *testing.T, cfg Config, opts ...httpx.Option) *Generator {
	t.Helper()
	if cfg.Model == "" {
		cfg.Model = "gpt-4o-mini"
	}
	g, err := New(cfg, nil, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Close() })
	return g
}

func newServer(t *testing.T, h http.HandlerFunc) *httptest.Server {
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

var conversation = []pipeline.Message{
	{Role: pipeline.RoleSystem, Content: "You are brief."},
	{Role: pipeline.RoleUser, Content: "Say hello."},
}

// collect runs Generate and returns the deltas.
func collect(t *testing.T, ctx context.Context, g *Generator) ([]string, error) {
	t.Helper()
	var deltas []string
	err := g.Generate(ctx, conversation, func(d string) error {
		if !utf8.ValidString(d) || d == "" {
			t.Errorf("bad delta %q", d)
		}
		deltas = append(deltas, d)
		return nil
	})
	return deltas, err
}

func TestStreamWire(t *testing.T) {
	pieces := []string{"Hello", " wörld", ", 你好", " 👋", "!"}
	want := strings.Join(pieces, "")
	for _, quote := range []struct {
		name string
		f    func(string) string
	}{{"raw utf-8", rawQuote}, {"ascii escapes", asciiQuote}} {
		for _, step := range []int{2, 3, 7, 64} {
			t.Run(fmt.Sprintf("%s/%d bytes", quote.name, step), func(t *testing.T) {
				srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
					if r.URL.Path != "/v1/chat/completions" || r.Header.Get("Authorization") != "Bearer sk-test" {
						t.Errorf("%s %s auth %q", r.Method, r.URL.Path, r.Header.Get("Authorization"))
					}
					var req struct {
						Model       string             `json:"model"`
						Stream      bool               `json:"stream"`
						Messages    []pipeline.Message `json:"messages"`
						Temperature *float64           `json:"temperature"`
						MaxTokens   int                `json:"max_tokens"`
					}
					if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
						t.Error(err)
					}
					if req.Model != "gpt-4o-mini" || !req.Stream || len(req.Messages) != 2 || req.Messages[1].Content != "Say hello." ||
						req.Temperature == nil || *req.Temperature > 1e-6 || req.MaxTokens != 50 {
						t.Errorf("request %+v", req)
					}
					sseHeaders(w)
					var s strings.Builder
					s.WriteString(`data: {"id":"chatcmpl-1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}` + "\n\n")
					for _, p := range pieces {
						s.WriteString(event(quote.f(p), ""))
					}
					s.WriteString(event("null", "stop"))
					s.WriteString(done)
					writeSplit(w, s.String(), step)
				})
				zero := float32(0)
				g := newGenerator(t, Config{
					Config:      httpx.Config{BaseURL: srv.URL + "/v1", APIKey: "sk-test"},
					Temperature: &zero, MaxTokens: 50,
				})
				deltas, err := collect(t, context.Background(), g)
				if err != nil {
					t.Fatal(err)
				}
				if got := strings.Join(deltas, ""); got != want {
					t.Fatalf("got %q, want %q", got, want)
				}
			})
		}
	}
}

func TestRuneSplitAcrossEvents(t *testing.T) {
	// What a sloppy server does: cut a character between two events, as
	// raw bytes or as the two halves of a surrogate pair.
	events := []string{
		rawQuote("caf\xc3"), rawQuote("\xa9 "), rawQuote("\xf0\x9f"), rawQuote("\x91"), rawQuote("\x8b "),
		`"\ud83d"`, `"\ude00"`, `"\ud83d"`, `"x"`, rawQuote("\xff ok"),
	}
	want := "café 👋 😀\uFFFDx\uFFFD ok"
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		sseHeaders(w)
		for _, e := range events {
			writeSplit(w, event(e, ""), 5)
		}
		writeSplit(w, event("null", "stop")+done, 5)
	})
	g := newGenerator(t, Config{Config: httpx.Config{BaseURL: srv.URL}})
	deltas, err := collect(t, context.Background(), g)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(deltas, ""); got != want {
		t.Fatalf("got %q, want %q (deltas %q)", got, want, deltas)
	}

	// For the record: go-openai's own Recv loses those characters.
	oc := goopenai.DefaultConfig("")
	oc.BaseURL = srv.URL
	stream, err := goopenai.NewClientWithConfig(oc).CreateChatCompletionStream(context.Background(), goopenai.ChatCompletionRequest{Model: "m"})
	if err != nil {
		t.Fatal(err)
	}
	defer stream.Close()
	var viaRecv strings.Builder
	for {
		resp, err := stream.Recv()
		if err != nil {
			break
		}
		viaRecv.WriteString(resp.Choices[0].Delta.Content)
	}
	if !strings.HasPrefix(viaRecv.String(), "caf\uFFFD\uFFFD") {
		t.Fatalf("go-openai Recv gave %q; if it now keeps split runes, deltaDecoder may be unnecessary", viaRecv.String())
	}
	oc.HTTPClient.(*http.Client).CloseIdleConnections()
}

func TestFirstDeltaBeforeServerFinishes(t *testing.T) {
	seen := make(chan struct{})
	var once sync.Once
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		sseHeaders(w)
		writeSplit(w, event(rawQuote("Hel"), "")+event(rawQuote("lo"), ""), 4096)
		select { // hold the rest until the client has shown it streams
		case <-seen:
		case <-time.After(5 * time.Second):
			t.Error("no delta reached the consumer while the server held the stream")
		}
		writeSplit(w, event(rawQuote(" there"), "")+event("null", "stop")+done, 11)
	})
	g := newGenerator(t, Config{Config: httpx.Config{BaseURL: srv.URL}})
	start := time.Now()
	var first time.Duration
	var got strings.Builder
	err := g.Generate(context.Background(), conversation, func(d string) error {
		if got.Len() == 0 {
			first = time.Since(start)
		}
		got.WriteString(d)
		once.Do(func() { close(seen) })
		return nil
	})
	if err != nil || got.String() != "Hello there" {
		t.Fatalf("got %q, %v", got.String(), err)
	}
	t.Logf("time to first delta through httpx + go-openai: %v", first)
}

func TestMidStreamDisconnect(t *testing.T) {
	var calls atomic.Int32
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		sseHeaders(w)
		if calls.Add(1) == 1 {
			writeSplit(w, event(rawQuote("Hello"), "")+`data: {"id":"chatcmpl-1","obj`, 16)
			conn, _, err := w.(http.Hijacker).Hijack()
			if err != nil {
				t.Error(err)
				return
			}
			conn.Close()
			return
		}
		writeSplit(w, event(rawQuote("Again"), "")+event("null", "stop")+done, 64)
	})
	g := newGenerator(t, Config{Config: httpx.Config{BaseURL: srv.URL}})
	deltas, err := collect(t, context.Background(), g)
	if !errors.Is(err, pipeline.ErrBadResponse) || strings.Join(deltas, "") != "Hello" {
		t.Fatalf("deltas %q, err %v; want Hello then ErrBadResponse", deltas, err)
	}
	t.Logf("mid-stream disconnect: %v", err)
	deltas, err = collect(t, context.Background(), g)
	if err != nil || strings.Join(deltas, "") != "Again" || calls.Load() != 2 {
		t.Fatalf("next call: %q, %v (%d calls)", deltas, err, calls.Load())
	}
}

func TestErrors(t *testing.T) {
	tests := []struct {
		name    string
		handler http.HandlerFunc
		kind    error
		message string
	}{
		{"bad key", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(401)
			_, _ = io.WriteString(w, `{"error":{"message":"Incorrect API key provided: sk-bad.","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}`)
		}, pipeline.ErrRejected, "Incorrect API key provided"},
		{"unknown model", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(404)
			_, _ = io.WriteString(w, `{"error":{"message":"model \"llama9\" not found, try pulling it first","type":"api_error"}}`)
		}, pipeline.ErrRejected, `model "llama9" not found`},
		{"error event mid-stream", func(w http.ResponseWriter, r *http.Request) {
			sseHeaders(w)
			writeSplit(w, `data: {"error":{"message":"The server is overloaded","type":"server_error"}}`+"\n\n", 64)
		}, pipeline.ErrUnavailable, "overloaded"},
		{"ends without finish_reason", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/event-stream")
			w.Header().Set("Content-Length", fmt.Sprint(len(event(rawQuote("Hi"), ""))))
			_, _ = io.WriteString(w, event(rawQuote("Hi"), ""))
		}, pipeline.ErrBadResponse, "without a finish_reason"},
		{"not json", func(w http.ResponseWriter, r *http.Request) {
			sseHeaders(w)
			writeSplit(w, "data: {oops\n\n", 64)
		}, pipeline.ErrBadResponse, "decoding"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newServer(t, tt.handler)
			g := newGenerator(t, Config{Config: httpx.Config{BaseURL: srv.URL, APIKey: "sk-bad"}})
			_, err := collect(t, context.Background(), g)
			if !errors.Is(err, tt.kind) || !strings.Contains(err.Error(), tt.message) {
				t.Fatalf("err = %v, want %v containing %q", err, tt.kind, tt.message)
			}
		})
	}
}

func TestRateLimitRetried(t *testing.T) {
	var calls atomic.Int32
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(429)
			_, _ = io.WriteString(w, `{"error":{"message":"Rate limit reached for gpt-4o-mini","type":"requests"}}`)
			return
		}
		sseHeaders(w)
		writeSplit(w, event(rawQuote("ok"), "stop")+done, 64)
	})
	clock := &sleepRecorder{}
	g := newGenerator(t, Config{Config: httpx.Config{BaseURL: srv.URL}}, httpx.WithClock(clock))
	deltas, err := collect(t, context.Background(), g)
	if err != nil || strings.Join(deltas, "") != "ok" {
		t.Fatalf("%q %v", deltas, err)
	}
	if len(clock.sleeps) != 1 || clock.sleeps[0] != time.Second {
		t.Fatalf("slept %v, want [1s]", clock.sleeps)
	}
}

type sleepRecorder struct {
	mu     sync.Mutex
	sleeps []time.Duration
}

func (s *sleepRecorder) Now() time.Time { return time.Now() }

func (s *sleepRecorder) Sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	s.sleeps = append(s.sleeps, d)
	s.mu.Unlock()
	return ctx.Err()
}

func TestStalledUpstreamTimesOut(t *testing.T) {
	release := make(chan struct{})
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		sseHeaders(w)
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	defer close(release)
	const ttfb = 250 * time.Millisecond
	g := newGenerator(t, Config{Config: httpx.Config{BaseURL: srv.URL, TTFB: ttfb}})
	start := time.Now()
	_, err := collect(t, context.Background(), g)
	took := time.Since(start)
	if !errors.Is(err, pipeline.ErrTimeout) || took > ttfb+200*time.Millisecond {
		t.Fatalf("err %v after %v", err, took)
	}
}

func TestCancelStopsPromptly(t *testing.T) {
	release := make(chan struct{})
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		sseHeaders(w)
		writeSplit(w, event(rawQuote("Hel"), ""), 64)
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	defer close(release)
	g := newGenerator(t, Config{Config: httpx.Config{BaseURL: srv.URL}})
	ctx, cancel := context.WithCancel(context.Background())
	var cancelled time.Time
	err := g.Generate(ctx, conversation, func(string) error {
		cancelled = time.Now()
		cancel()
		return nil
	})
	if !errors.Is(err, context.Canceled) || time.Since(cancelled) > 100*time.Millisecond {
		t.Fatalf("err %v, %v after cancel", err, time.Since(cancelled))
	}
}

func TestEmitErrorStops(t *testing.T) {
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		sseHeaders(w)
		writeSplit(w, event(rawQuote("a"), "")+event(rawQuote("b"), "")+event("null", "stop")+done, 64)
	})
	g := newGenerator(t, Config{Config: httpx.Config{BaseURL: srv.URL}})
	stop := errors.New("listener gone")
	n := 0
	err := g.Generate(context.Background(), conversation, func(string) error { n++; return stop })
	if err != stop || n != 1 {
		t.Fatalf("err %v after %d emits", err, n)
	}
}

func TestReasoningModelMaxTokens(t *testing.T) {
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		var req map[string]any
		_ = json.NewDecoder(r.Body).Decode(&req)
		if _, ok := req["max_tokens"]; ok || req["max_completion_tokens"] != 64.0 {
			t.Errorf("request %v", req)
		}
		sseHeaders(w)
		writeSplit(w, event(rawQuote("ok"), "stop")+done, 64)
	})
	g := newGenerator(t, Config{Config: httpx.Config{BaseURL: srv.URL}, Model: "o3-mini", MaxTokens: 64})
	if _, err := collect(t, context.Background(), g); err != nil {
		t.Fatal(err)
	}
}

// TestConformance runs the checks every Generator passes, against a server
// that streams its reply a few bytes at a time, slowly enough that a cancel
// lands mid-stream.
func TestConformance(t *testing.T) {
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		sseHeaders(w)
		for _, d := range []string{"Sunny ", "skies, ", "a light ", "breeze — ", "and 22 °C ☀️."} {
			writeSplit(w, event(rawQuote(d), ""), 5)
			time.Sleep(20 * time.Millisecond)
		}
		writeSplit(w, event(`""`, "stop"), 5)
		writeSplit(w, done, 5)
	})
	if err := conformance.TestGenerator(t.Context(), newGenerator(t, Config{Config: httpx.Config{BaseURL: srv.URL + "/v1", APIKey: "sk-test"}})); err != nil {
		t.Error(err)
	}
}
