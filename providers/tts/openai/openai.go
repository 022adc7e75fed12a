// Package openai is a streaming pipeline.Synthesizer for servers that speak
// OpenAI's /v1/audio/speech with response_format=pcm: OpenAI (tts-1,
// gpt-4o-mini-tts) and local OpenAI-compatible speech servers such as
// Kokoro-FastAPI and speaches. Audio is emitted as the response body
// arrives, not when it ends.
package openai

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"strings"

	"go.uber.org/zap"

	"github.com/voicegate/voicegate/audio"
	"github.com/voicegate/voicegate/pipeline"
	"github.com/voicegate/voicegate/providers/httpx"
)

// Config configures a Synthesizer. The httpx.Config keys sit inline.
type Config struct {
	httpx.Config `yaml:",inline"`
	// Model, e.g. tts-1, gpt-4o-mini-tts, kokoro. Required.
	Model string `yaml:"model"`
	// Voice, e.g. alloy, af_bella. Required.
	Voice string `yaml:"voice"`
	// Speed, 0.25–4; 0 leaves the server's default (1).
	Speed float64 `yaml:"speed"`
	// Instructions steer the delivery (gpt-4o-mini-tts only); optional.
	Instructions string `yaml:"instructions"`
	// SampleRate of the server's raw PCM. OpenAI and Kokoro-FastAPI send
	// 24000 Hz mono s16le, the default; set it for servers that differ.
	SampleRate int `yaml:"sample_rate"`
}

// readSize is how much body one read takes: about 85 ms of 24 kHz audio, so
// a fast server's audio goes out in few emits and a slow one's as it comes.
const readSize = 4096

// Synthesizer speaks text. It is safe for concurrent use.
type Synthesizer struct {
	cfg    Config
	format audio.Format
	http   *httpx.Client
	log    *zap.Logger
}

var (
	_ pipeline.Synthesizer = (*Synthesizer)(nil)
	_ pipeline.Voiced      = (*Synthesizer)(nil)
)

// New returns a Synthesizer for cfg. A nil logger logs nothing; opts go to
// httpx.New.
func New(cfg Config, logger *zap.Logger, opts ...httpx.Option) (*Synthesizer, error) {
	if cfg.Name == "" {
		cfg.Name = "openai"
	}
	if cfg.Model == "" || cfg.Voice == "" {
		return nil, fmt.Errorf("provider %s: model and voice are required", cfg.Name)
	}
	if cfg.SampleRate == 0 {
		cfg.SampleRate = audio.Mono24k.SampleRate
	}
	f := audio.Format{SampleRate: cfg.SampleRate, Channels: 1}
	if err := f.Validate(); err != nil {
		return nil, fmt.Errorf("provider %s: sample_rate: %w", cfg.Name, err)
	}
	if cfg.Speed != 0 && (cfg.Speed < 0.25 || cfg.Speed > 4) {
		return nil, fmt.Errorf("provider %s: speed %v outside 0.25–4", cfg.Name, cfg.Speed)
	}
	if logger == nil {
		logger = zap.NewNop()
	}
	hc, err := httpx.New(cfg.Config, logger, opts...)
	if err != nil {
		return nil, err
	}
	return &Synthesizer{
		cfg:    cfg,
		format: f,
		http:   hc,
		log:    logger.With(zap.String("provider", cfg.Name), zap.String("model", cfg.Model)),
	}, nil
}

// WithVoice returns a Synthesizer like s that asks the server for voice.
// The server knows its voices: the name is only checked to be one.
func (s *Synthesizer) WithVoice(voice string) (pipeline.Synthesizer, error) {
	if !validVoice(voice) {
		return nil, fmt.Errorf("provider %s: %q is not a voice name (letters, digits, '_', '-', '.'; at most 64)", s.cfg.Name, voice)
	}
	c := *s
	c.cfg.Voice = voice
	return &c, nil
}

func validVoice(v string) bool {
	if v == "" || len(v) > 64 {
		return false
	}
	for _, r := range v {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-' || r == '.') {
			return false
		}
	}
	return true
}

// Name is "<name>:<model>", e.g. "openai:tts-1".
func (s *Synthesizer) Name() string { return s.cfg.Name + ":" + s.cfg.Model }

// Format is mono at Config.SampleRate (audio.Mono24k by default).
func (s *Synthesizer) Format() audio.Format { return s.format }

// Prewarm opens connections to the server ahead of the first reply.
func (s *Synthesizer) Prewarm(ctx context.Context) error { return s.http.Prewarm(ctx) }

// Close stops reopening connections in the background and releases idle
// ones. The Synthesizer stays usable.
func (s *Synthesizer) Close() error {
	s.http.Close()
	return nil
}

type speechRequest struct {
	Model          string  `json:"model"`
	Input          string  `json:"input"`
	Voice          string  `json:"voice"`
	ResponseFormat string  `json:"response_format"`
	Speed          float64 `json:"speed,omitempty"`
	Instructions   string  `json:"instructions,omitempty"`
}

// Synthesize speaks text, emitting samples as the body arrives. The slice
// passed to emit is reused after emit returns. Blank text emits nothing.
// Its errors carry no credential (httpx.Client.Scrub).
func (s *Synthesizer) Synthesize(ctx context.Context, text string, emit func(pcm []int16) error) error {
	return s.http.Scrub(s.synthesize(ctx, text, emit))
}

func (s *Synthesizer) synthesize(ctx context.Context, text string, emit func(pcm []int16) error) error {
	if strings.TrimSpace(text) == "" {
		return nil
	}
	payload, err := json.Marshal(speechRequest{
		Model: s.cfg.Model, Input: text, Voice: s.cfg.Voice, ResponseFormat: "pcm",
		Speed: s.cfg.Speed, Instructions: s.cfg.Instructions,
	})
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.http.BaseURL()+"/audio/speech", bytes.NewReader(payload))
	if err != nil {
		return fmt.Errorf("%s: %w", s.Name(), err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.http.Do(req)
	if err != nil {
		return s.fail(ctx, err)
	}
	defer resp.Body.Close()
	if err := checkContentType(resp.Header.Get("Content-Type")); err != nil {
		return fmt.Errorf("%s: %w: %w", s.Name(), pipeline.ErrBadResponse, err)
	}

	var emitErr error
	half, err := audio.ReadPCM16(resp.Body, readSize, func(pcm []int16) error {
		emitErr = emit(pcm)
		return emitErr
	})
	switch {
	case emitErr != nil:
		return emitErr
	case err != nil:
		return s.fail(ctx, err)
	case half:
		s.log.Debug("speech ended on half a sample; dropped it")
	}
	return nil
}

// checkContentType refuses bodies that are clearly not raw PCM: an error in
// a 200, or a server that ignored response_format and sent MP3.
func checkContentType(ct string) error {
	if ct == "" {
		return nil
	}
	mt, _, _ := mime.ParseMediaType(ct)
	switch {
	case mt == "application/json", strings.HasPrefix(mt, "text/"),
		mt == "audio/mpeg", mt == "audio/mp3", mt == "audio/ogg", mt == "audio/opus",
		mt == "audio/aac", mt == "audio/flac", mt == "audio/wav", mt == "audio/x-wav":
		return fmt.Errorf("want raw PCM, got Content-Type %s", ct)
	}
	return nil
}

func (s *Synthesizer) fail(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return fmt.Errorf("%s: speech: %w", s.Name(), err)
}
