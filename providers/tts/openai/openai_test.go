package openai

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/voicegate/voicegate/audio"
	"github.com/voicegate/voicegate/pipeline"
	"github.com/voicegate/voicegate/pipeline/conformance"
	"github.com/voicegate/voicegate/providers/httpx"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func tone(n int) []int16 {
	s := make([]int16, n)
	for i := range s {
		s[i] = int16(9000*math.Sin(2*math.Pi*330*float64(i)/24000)) | 1 // odd low byte: catches byte-order slips
	}
	return s
}

func newSynth(t *testing.T, cfg Config, opts ...httpx.Option) *Synthesizer {
	t.Helper()
	if cfg.Model == "" {
		cfg.Model = "tts-1"
	}
	if cfg.Voice == "" {
		cfg.Voice = "alloy"
	}
	s, err := New(cfg, nil, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func newServer(t *testing.T, h http.HandlerFunc) *httptest.Server {
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

func TestStreamsPCMIncrementally(t *testing.T) {
	want := tone(24000) // 1 s
	body := audio.EncodePCM16(nil, want)
	seen := make(chan struct{})
	var once sync.Once
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		var req map[string]any
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			t.Error(err)
		}
		if r.URL.Path != "/v1/audio/speech" || req["model"] != "tts-1" || req["voice"] != "alloy" ||
			req["response_format"] != "pcm" || req["speed"] != 1.25 || req["input"] != "Hello there." || r.Header.Get("Authorization") != "Bearer sk-tts" {
			t.Errorf("%s %v %q", r.URL.Path, req, r.Header.Get("Authorization"))
		}
		w.Header().Set("Content-Type", "audio/pcm")
		w.WriteHeader(200)
		f := w.(http.Flusher)
		// Odd-sized pieces, so samples split across reads.
		first, rest := body[:4801], body[4801:]
		for _, p := range [][]byte{first[:1], first[1:999], first[999:]} {
			_, _ = w.Write(p)
			f.Flush()
			time.Sleep(2 * time.Millisecond)
		}
		select { // hold the rest until the client has played something
		case <-seen:
		case <-time.After(5 * time.Second):
			t.Error("no audio reached the consumer while the server held the body")
		}
		for len(rest) > 0 {
			k := min(777, len(rest))
			_, _ = w.Write(rest[:k])
			f.Flush()
			rest = rest[k:]
		}
	})
	s := newSynth(t, Config{Config: httpx.Config{BaseURL: srv.URL + "/v1", APIKey: "sk-tts"}, Speed: 1.25})
	if s.Format() != audio.Mono24k {
		t.Fatalf("format %v", s.Format())
	}
	var got []int16
	start := time.Now()
	var first time.Duration
	emits := 0
	err := s.Synthesize(context.Background(), "Hello there.", func(pcm []int16) error {
		if emits == 0 {
			first = time.Since(start)
		}
		emits++
		got = append(got, pcm...)
		once.Do(func() { close(seen) })
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("%d samples, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("sample %d = %d, want %d", i, got[i], want[i])
		}
	}
	t.Logf("first audio after %v, %d emits", first, emits)
}

func TestSampleRateConfigurable(t *testing.T) {
	s := newSynth(t, Config{Config: httpx.Config{BaseURL: "http://127.0.0.1:1"}, SampleRate: 22050})
	if s.Format() != (audio.Format{SampleRate: 22050, Channels: 1}) {
		t.Fatal(s.Format())
	}
	if _, err := New(Config{Config: httpx.Config{BaseURL: "http://x"}, Model: "m", Voice: "v", SampleRate: 12345}, nil); err == nil {
		t.Fatal("accepted an unsupported rate")
	}
}

func TestErrors(t *testing.T) {
	tests := []struct {
		name    string
		h       http.HandlerFunc
		kind    error
		message string
	}{
		{"unknown voice", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(400)
			_, _ = io.WriteString(w, `{"detail":{"error":"validation_error","message":"Voice 'af_nobody' not found","type":"invalid_request_error"}}`)
		}, pipeline.ErrRejected, "af_nobody"},
		{"json in a 200", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"status":"queued"}`)
		}, pipeline.ErrBadResponse, "want raw PCM"},
		{"mp3 instead of pcm", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "audio/mpeg")
			_, _ = w.Write([]byte{0xff, 0xfb, 0x90, 0x00})
		}, pipeline.ErrBadResponse, "audio/mpeg"},
		{"drop mid-stream", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "audio/pcm")
			_, _ = w.Write(make([]byte, 1000))
			w.(http.Flusher).Flush()
			conn, _, _ := w.(http.Hijacker).Hijack()
			conn.Close()
		}, pipeline.ErrBadResponse, "broken after"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newServer(t, tt.h)
			s := newSynth(t, Config{Config: httpx.Config{BaseURL: srv.URL}})
			err := s.Synthesize(context.Background(), "hi", func([]int16) error { return nil })
			if !errors.Is(err, tt.kind) || !strings.Contains(err.Error(), tt.message) {
				t.Fatalf("err = %v, want %v with %q", err, tt.kind, tt.message)
			}
		})
	}
}

func TestStalledServerTimesOut(t *testing.T) {
	release := make(chan struct{})
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "audio/pcm")
		w.WriteHeader(200)
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	defer close(release)
	s := newSynth(t, Config{Config: httpx.Config{BaseURL: srv.URL, TTFB: 200 * time.Millisecond}})
	start := time.Now()
	err := s.Synthesize(context.Background(), "hi", func([]int16) error { return nil })
	if !errors.Is(err, pipeline.ErrTimeout) || time.Since(start) > 400*time.Millisecond {
		t.Fatalf("err %v after %v", err, time.Since(start))
	}
}

func TestCancelAndEmitError(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "audio/pcm")
		_, _ = w.Write(make([]byte, 960))
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	s := newSynth(t, Config{Config: httpx.Config{BaseURL: srv.URL}})

	ctx, cancel := context.WithCancel(context.Background())
	var at time.Time
	err := s.Synthesize(ctx, "hi", func([]int16) error { at = time.Now(); cancel(); return nil })
	if !errors.Is(err, context.Canceled) || time.Since(at) > 100*time.Millisecond {
		t.Fatalf("err %v, %v after cancel", err, time.Since(at))
	}

	stop := errors.New("stop")
	if err := s.Synthesize(context.Background(), "hi", func([]int16) error { return stop }); err != stop {
		t.Fatalf("err = %v", err)
	}
}

func TestBlankTextMakesNoRequest(t *testing.T) {
	var calls atomic.Int32
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) { calls.Add(1) })
	s := newSynth(t, Config{Config: httpx.Config{BaseURL: srv.URL}})
	if err := s.Synthesize(context.Background(), "  \n", func([]int16) error { return nil }); err != nil || calls.Load() != 0 {
		t.Fatalf("%v, %d calls", err, calls.Load())
	}
}

// TestConformance runs the checks every Synthesizer passes, against a server
// that says 60 ms of tone per character, streamed in pieces over time.
func TestConformance(t *testing.T) {
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		var req struct{ Input string }
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			t.Error(err)
		}
		body := audio.EncodePCM16(nil, tone(24000*len([]rune(req.Input))*6/100))
		w.Header().Set("Content-Type", "audio/pcm")
		f := w.(http.Flusher)
		for len(body) > 0 {
			n := min(4801, len(body))
			if _, err := w.Write(body[:n]); err != nil {
				return
			}
			f.Flush()
			body = body[n:]
			time.Sleep(time.Millisecond)
		}
	})
	if err := conformance.TestSynthesizer(t.Context(), newSynth(t, Config{Config: httpx.Config{BaseURL: srv.URL + "/v1", APIKey: "sk-tts"}})); err != nil {
		t.Error(err)
	}
}

// TestName: kind:model, as every HTTP provider names itself.
func TestName(t *testing.T) {
	s := newSynth(t, Config{Config: httpx.Config{Name: "kokoro", BaseURL: "http://127.0.0.1:8880/v1"}, Model: "kokoro", Voice: "af_bella"})
	if got := s.Name(); got != "kokoro:kokoro" {
		t.Fatalf("Name() = %q", got)
	}
}

// TestWithVoice: a synthesizer with another voice asks the server for it;
// the original keeps its own, and a name that cannot be a voice is refused.
func TestWithVoice(t *testing.T) {
	voices := make(chan any, 2)
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		var req map[string]any
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			t.Error(err)
		}
		voices <- req["voice"]
		w.Header().Set("Content-Type", "audio/pcm")
		_, _ = w.Write(audio.EncodePCM16(nil, tone(2400)))
	})
	s := newSynth(t, Config{Config: httpx.Config{BaseURL: srv.URL + "/v1", APIKey: "sk-tts"}})
	v, err := s.WithVoice("nova")
	if err != nil {
		t.Fatal(err)
	}
	for _, syn := range []pipeline.Synthesizer{v, s} {
		if err := syn.Synthesize(context.Background(), "Hi.", func([]int16) error { return nil }); err != nil {
			t.Fatal(err)
		}
	}
	if a, b := <-voices, <-voices; a != "nova" || b != "alloy" {
		t.Fatalf("voices asked for: %v then %v, want nova then alloy", a, b)
	}
	for _, bad := range []string{"", "no spaces", strings.Repeat("v", 65), "über"} {
		if _, err := s.WithVoice(bad); err == nil {
			t.Errorf("WithVoice(%q) accepted", bad)
		}
	}
}
