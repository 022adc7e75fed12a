package openai

import (
	"bytes"
	"context"
	"encoding/binary"
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
	"github.com/voicegate/voicegate/audio/wav"
	"github.com/voicegate/voicegate/pipeline"
	"github.com/voicegate/voicegate/providers/httpx"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func speech(d time.Duration) []int16 {
	s := make([]int16, audio.Mono16k.Samples(d))
	for i := range s {
		s[i] = int16(6000 * math.Sin(2*math.Pi*220*float64(i)/16000))
	}
	return s
}

// upload is what the fake server parsed out of one request.
type upload struct {
	fields  map[string]string
	rawWAV  []byte
	format  audio.Format
	samples []int16
	ctype   string
	auth    string
}

// whisperServer answers like OpenAI's /v1/audio/transcriptions and hands
// each parsed upload to the test.
func whisperServer(t *testing.T, uploads chan<- upload, text string) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/v1/audio/transcriptions" {
			http.NotFound(w, r)
			return
		}
		if err := r.ParseMultipartForm(8 << 20); err != nil {
			w.WriteHeader(400)
			_, _ = io.WriteString(w, `{"error":{"message":"`+err.Error()+`"}}`)
			return
		}
		u := upload{fields: map[string]string{}, auth: r.Header.Get("Authorization")}
		for k, v := range r.MultipartForm.Value {
			u.fields[k] = v[0]
		}
		fh := r.MultipartForm.File["file"]
		if len(fh) != 1 {
			w.WriteHeader(400)
			_, _ = io.WriteString(w, `{"error":{"message":"file is required"}}`)
			return
		}
		u.ctype = fh[0].Header.Get("Content-Type")
		f, _ := fh[0].Open()
		u.rawWAV, _ = io.ReadAll(f)
		f.Close()
		var err error
		u.format, u.samples, err = wav.Decode(bytes.NewReader(u.rawWAV))
		if err != nil {
			t.Error(err)
		}
		uploads <- u
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"text":" `+text+` "}`)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func newRecognizer(t *testing.T, cfg Config, opts ...httpx.Option) *Recognizer {
	t.Helper()
	if cfg.Model == "" {
		cfg.Model = "whisper-1"
	}
	r, err := New(cfg, nil, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

func run(t *testing.T, r *Recognizer, chunks ...[]int16) (string, error) {
	t.Helper()
	u, err := r.Start(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	for _, c := range chunks {
		if p, err := u.Write(c); err != nil || p != "" {
			t.Fatalf("Write: %q, %v", p, err)
		}
	}
	return u.Finish(context.Background())
}

func TestTranscribeUpload(t *testing.T) {
	uploads := make(chan upload, 1)
	srv := whisperServer(t, uploads, "turn on the lights")
	r := newRecognizer(t, Config{
		Config:   httpx.Config{BaseURL: srv.URL + "/v1", APIKey: "sk-asr"},
		Language: "en", Prompt: "Lights, kitchen.",
	})
	pcm := speech(1500 * time.Millisecond)
	// Fed in 20 ms frames, as the session does.
	var frames [][]int16
	for i := 0; i < len(pcm); i += 320 {
		frames = append(frames, pcm[i:min(i+320, len(pcm))])
	}
	text, err := run(t, r, frames...)
	if err != nil || text != "turn on the lights" {
		t.Fatalf("%q, %v", text, err)
	}
	u := <-uploads
	want := map[string]string{"model": "whisper-1", "language": "en", "prompt": "Lights, kitchen.", "response_format": "json"}
	for k, v := range want {
		if u.fields[k] != v {
			t.Errorf("field %s = %q, want %q", k, u.fields[k], v)
		}
	}
	if u.auth != "Bearer sk-asr" || u.ctype != "audio/wav" {
		t.Errorf("auth %q, part type %q", u.auth, u.ctype)
	}
	// The header, field by field.
	h := u.rawWAV
	le := binary.LittleEndian
	checks := []struct {
		name string
		got  any
		want any
	}{
		{"RIFF", string(h[0:4]), "RIFF"},
		{"riff size", le.Uint32(h[4:]), uint32(36 + 2*len(pcm))},
		{"WAVE", string(h[8:12]), "WAVE"},
		{"fmt ", string(h[12:16]), "fmt "},
		{"fmt size", le.Uint32(h[16:]), uint32(16)},
		{"PCM", le.Uint16(h[20:]), uint16(1)},
		{"channels", le.Uint16(h[22:]), uint16(1)},
		{"rate", le.Uint32(h[24:]), uint32(16000)},
		{"byte rate", le.Uint32(h[28:]), uint32(32000)},
		{"block align", le.Uint16(h[32:]), uint16(2)},
		{"bits", le.Uint16(h[34:]), uint16(16)},
		{"data", string(h[36:40]), "data"},
		{"data size", le.Uint32(h[40:]), uint32(2 * len(pcm))},
		{"file size", len(h), 44 + 2*len(pcm)},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("WAV %s = %v, want %v", c.name, c.got, c.want)
		}
	}
	if u.format != audio.Mono16k || len(u.samples) != len(pcm) || u.samples[100] != pcm[100] {
		t.Errorf("decoded %v, %d samples", u.format, len(u.samples))
	}
}

func TestMaxDurationCapsUpload(t *testing.T) {
	uploads := make(chan upload, 1)
	srv := whisperServer(t, uploads, "long")
	r := newRecognizer(t, Config{Config: httpx.Config{BaseURL: srv.URL + "/v1"}, MaxDuration: time.Second})
	if _, err := run(t, r, speech(700*time.Millisecond), speech(700*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	if u := <-uploads; len(u.samples) != 16000 {
		t.Fatalf("uploaded %d samples, want 16000", len(u.samples))
	}
}

func TestTooShortSkipsUpload(t *testing.T) {
	uploads := make(chan upload, 1)
	srv := whisperServer(t, uploads, "x")
	r := newRecognizer(t, Config{Config: httpx.Config{BaseURL: srv.URL + "/v1"}})
	text, err := run(t, r, speech(50*time.Millisecond))
	if err != nil || text != "" || len(uploads) != 0 {
		t.Fatalf("%q, %v, %d uploads", text, err, len(uploads))
	}
}

func TestErrorsAndRetry(t *testing.T) {
	var calls atomic.Int32
	var mu sync.Mutex
	var sizes []int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		sizes = append(sizes, len(b))
		mu.Unlock()
		switch calls.Add(1) {
		case 1:
			w.WriteHeader(503)
		case 2:
			_, _ = io.WriteString(w, `{"text":"after retry"}`)
		case 3:
			w.WriteHeader(400)
			_, _ = io.WriteString(w, `{"error":{"message":"Audio file might be corrupted or unsupported","type":"invalid_request_error","param":"file","code":"invalid_value"}}`)
		default:
			_, _ = io.WriteString(w, `<html>not json</html>`)
		}
	}))
	defer srv.Close()
	r := newRecognizer(t, Config{Config: httpx.Config{BaseURL: srv.URL}})
	text, err := run(t, r, speech(time.Second))
	if err != nil || text != "after retry" || sizes[0] != sizes[1] {
		t.Fatalf("%q, %v, body sizes %v", text, err, sizes)
	}
	_, err = run(t, r, speech(time.Second))
	if !errors.Is(err, pipeline.ErrRejected) || !strings.Contains(err.Error(), "might be corrupted") {
		t.Fatalf("err = %v", err)
	}
	_, err = run(t, r, speech(time.Second))
	if !errors.Is(err, pipeline.ErrBadResponse) {
		t.Fatalf("err = %v", err)
	}
}

func TestLifecycle(t *testing.T) {
	r := newRecognizer(t, Config{Config: httpx.Config{BaseURL: "http://127.0.0.1:1"}})
	u, _ := r.Start(context.Background())
	if _, err := u.Finish(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := u.Write(speech(time.Millisecond)); err == nil {
		t.Fatal("Write after Finish succeeded")
	}
	first, second := u.Close(), u.Close()
	if first != nil || second != nil {
		t.Fatal("Close not idempotent")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	u, _ = r.Start(context.Background())
	_, _ = u.Write(speech(time.Second))
	if _, err := u.Finish(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
}
