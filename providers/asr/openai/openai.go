// Package openai is a pipeline.Recognizer for servers that speak OpenAI's
// /v1/audio/transcriptions: OpenAI (whisper-1, gpt-4o-mini-transcribe), Groq,
// and local OpenAI-compatible speech servers such as speaches. It is a batch
// recogniser: an utterance's audio is buffered and uploaded as one WAV file
// when the utterance finishes.
package openai

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/voicegate/voicegate/audio"
	"github.com/voicegate/voicegate/audio/wav"
	"github.com/voicegate/voicegate/pipeline"
	"github.com/voicegate/voicegate/providers/httpx"
)

// Config configures a Recognizer. The httpx.Config keys sit inline.
type Config struct {
	httpx.Config `yaml:",inline"`
	// Model, e.g. whisper-1, gpt-4o-mini-transcribe,
	// Systran/faster-whisper-small. Required.
	Model string `yaml:"model"`
	// Language is an ISO-639-1 hint such as "en"; empty lets the server
	// detect it.
	Language string `yaml:"language"`
	// Prompt biases recognition (names, jargon); optional.
	Prompt string `yaml:"prompt"`
	// MaxDuration caps the audio kept per utterance; later audio is
	// dropped. Default 60 s.
	MaxDuration time.Duration `yaml:"max_duration"`
}

// DefaultMaxDuration is Config.MaxDuration's default.
const DefaultMaxDuration = 60 * time.Second

// minDuration is the shortest audio worth sending: OpenAI refuses less than
// 0.1 s, and it holds no words anyway.
const minDuration = 100 * time.Millisecond

// Recognizer transcribes utterances. It is safe for concurrent use.
type Recognizer struct {
	cfg  Config
	http *httpx.Client
	log  *zap.Logger
	max  int // samples
}

var _ pipeline.Recognizer = (*Recognizer)(nil)

// New returns a Recognizer for cfg. A nil logger logs nothing; opts go to
// httpx.New.
func New(cfg Config, logger *zap.Logger, opts ...httpx.Option) (*Recognizer, error) {
	if cfg.Name == "" {
		cfg.Name = "openai"
	}
	if cfg.Model == "" {
		return nil, fmt.Errorf("provider %s: model is required", cfg.Name)
	}
	if cfg.MaxDuration == 0 {
		cfg.MaxDuration = DefaultMaxDuration
	}
	if cfg.MaxDuration < minDuration {
		return nil, fmt.Errorf("provider %s: max_duration %v is too short", cfg.Name, cfg.MaxDuration)
	}
	if logger == nil {
		logger = zap.NewNop()
	}
	hc, err := httpx.New(cfg.Config, logger, opts...)
	if err != nil {
		return nil, err
	}
	return &Recognizer{
		cfg:  cfg,
		http: hc,
		log:  logger.With(zap.String("provider", cfg.Name), zap.String("model", cfg.Model)),
		max:  audio.Mono16k.Samples(cfg.MaxDuration),
	}, nil
}

// Name is "<name>:<model>", e.g. "openai:whisper-1".
func (r *Recognizer) Name() string { return r.cfg.Name + ":" + r.cfg.Model }

// Prewarm opens connections to the server ahead of the first utterance.
func (r *Recognizer) Prewarm(ctx context.Context) error { return r.http.Prewarm(ctx) }

// Close stops reopening connections in the background and releases idle
// ones. The Recognizer stays usable.
func (r *Recognizer) Close() error {
	r.http.Close()
	return nil
}

// Start begins an utterance. It makes no network call.
func (r *Recognizer) Start(ctx context.Context) (pipeline.Utterance, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return &utterance{r: r, samples: make([]int16, 0, audio.Mono16k.Samples(5*time.Second))}, nil
}

type utterance struct {
	r        *Recognizer
	samples  []int16
	dropped  bool
	finished bool
}

// Write buffers samples (a copy) and returns "": there are no partials.
func (u *utterance) Write(samples []int16) (string, error) {
	if u.finished {
		return "", fmt.Errorf("%s: Write after Finish or Close", u.r.Name())
	}
	room := u.r.max - len(u.samples)
	if len(samples) > room {
		if !u.dropped {
			u.dropped = true
			u.r.log.Warn("utterance longer than max_duration; dropping the rest", zap.Duration("max_duration", u.r.cfg.MaxDuration))
		}
		samples = samples[:max(room, 0)]
	}
	u.samples = append(u.samples, samples...)
	return "", nil
}

// Finish uploads the utterance and returns the transcript. Its errors
// carry no credential (httpx.Client.Scrub) and no part of the response.
func (u *utterance) Finish(ctx context.Context) (string, error) {
	if u.finished {
		return "", fmt.Errorf("%s: Finish called twice or after Close", u.r.Name())
	}
	u.finished = true
	samples := u.samples
	u.samples = nil
	if audio.Mono16k.Duration(len(samples)) < minDuration {
		return "", nil
	}
	text, err := u.r.transcribe(ctx, samples)
	return text, u.r.http.Scrub(err)
}

// Close drops the buffered audio.
func (u *utterance) Close() error {
	u.finished = true
	u.samples = nil
	return nil
}

// transcribe posts samples as a 16 kHz mono WAV file.
func (r *Recognizer) transcribe(ctx context.Context, samples []int16) (string, error) {
	var body bytes.Buffer
	body.Grow(wav.HeaderSize + 2*len(samples) + 1024)
	mw := multipart.NewWriter(&body)
	fields := [][2]string{{"model", r.cfg.Model}, {"response_format", "json"}}
	if r.cfg.Language != "" {
		fields = append(fields, [2]string{"language", r.cfg.Language})
	}
	if r.cfg.Prompt != "" {
		fields = append(fields, [2]string{"prompt", r.cfg.Prompt})
	}
	for _, f := range fields {
		if err := mw.WriteField(f[0], f[1]); err != nil {
			return "", err
		}
	}
	h := make(textproto.MIMEHeader)
	h.Set("Content-Disposition", `form-data; name="file"; filename="utterance.wav"`)
	h.Set("Content-Type", "audio/wav")
	part, err := mw.CreatePart(h)
	if err != nil {
		return "", err
	}
	if err := wav.Encode(part, audio.Mono16k, samples); err != nil {
		return "", fmt.Errorf("%s: encoding WAV: %w", r.Name(), err)
	}
	if err := mw.Close(); err != nil {
		return "", err
	}

	// A bytes.Reader body gets GetBody, so httpx may resend it.
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.http.BaseURL()+"/audio/transcriptions", bytes.NewReader(body.Bytes()))
	if err != nil {
		return "", fmt.Errorf("%s: %w", r.Name(), err)
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Accept", "application/json")
	start := time.Now()
	resp, err := r.http.Do(req)
	if err != nil {
		return "", r.fail(ctx, err)
	}
	defer resp.Body.Close()
	var out struct {
		Text *string `json:"text"`
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return "", r.fail(ctx, err)
	}
	if err := json.Unmarshal(b, &out); err != nil || out.Text == nil {
		// Not the body itself: it may be an error that echoes the key, or
		// a transcript in another shape.
		return "", fmt.Errorf("%s: %w: want {\"text\": ...}, got %s", r.Name(), pipeline.ErrBadResponse, describeBody(resp.Header.Get("Content-Type"), b))
	}
	if ce := r.log.Check(zap.DebugLevel, "transcribed"); ce != nil {
		ce.Write(zap.Duration("audio", audio.Mono16k.Duration(len(samples))), zap.Duration("took", time.Since(start)))
	}
	return strings.TrimSpace(*out.Text), nil
}

func (r *Recognizer) fail(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return fmt.Errorf("%s: transcribe: %w", r.Name(), err)
}

// describeBody says what a body that is not a transcript is without quoting
// it: its size and type, and whether it is a JSON error object.
func describeBody(contentType string, b []byte) string {
	if contentType == "" {
		contentType = "no Content-Type"
	}
	var v struct {
		Error json.RawMessage `json:"error"`
	}
	if json.Unmarshal(b, &v) == nil && len(v.Error) > 0 && string(v.Error) != "null" {
		return fmt.Sprintf("an error object (%d bytes, %s)", len(b), contentType)
	}
	return fmt.Sprintf("%d bytes of %s", len(b), contentType)
}
