package exec

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/voicegate/voicegate/audio"
	"github.com/voicegate/voicegate/audio/wav"
	"github.com/voicegate/voicegate/pipeline"
)

// ASRConfig configures a Recognizer that runs a command per utterance.
type ASRConfig struct {
	// Name labels the provider in logs and errors. Default "exec".
	Name string `yaml:"name"`
	// Command is the argv, e.g. ["whisper-cli", "-m", "ggml-base.en.bin",
	// "-f", "-", "-nt"]. It reads a 16 kHz mono 16-bit WAV file on stdin
	// and prints the transcript on stdout. Required.
	Command []string `yaml:"command"`
	// Env is added to the gateway's environment (KEY=VALUE).
	Env []string `yaml:"env"`
	// Dir is the working directory; empty is the gateway's.
	Dir string `yaml:"dir"`
	// Timeout bounds one run. Default 30 s.
	Timeout time.Duration `yaml:"timeout"`
	// MaxDuration caps the audio kept per utterance. Default 60 s.
	MaxDuration time.Duration `yaml:"max_duration"`
	// Content says whether stderr may go into errors; set by the program,
	// not in the file.
	Content `yaml:"-"`
}

// maxTranscript bounds what is read from a recogniser's stdout.
const maxTranscript = 64 << 10

// Recognizer runs Command once per utterance. It is safe for concurrent use.
type Recognizer struct {
	cmd command
	max int
	log *zap.Logger
}

var _ pipeline.Recognizer = (*Recognizer)(nil)

// NewRecognizer checks that the command exists and returns a Recognizer.
// A nil logger logs nothing.
func NewRecognizer(cfg ASRConfig, logger *zap.Logger) (*Recognizer, error) {
	c, err := newCommand(cfg.Name, "asr", cfg.Command, cfg.Env, cfg.Dir, cfg.Timeout, 30*time.Second, cfg.Content)
	if err != nil {
		return nil, err
	}
	if cfg.MaxDuration <= 0 {
		cfg.MaxDuration = 60 * time.Second
	}
	if logger == nil {
		logger = zap.NewNop()
	}
	return &Recognizer{cmd: c, max: audio.Mono16k.Samples(cfg.MaxDuration), log: logger.With(zap.String("provider", c.name))}, nil
}

// Name is "<name>:<command>", e.g. "exec:whisper-cli".
func (r *Recognizer) Name() string { return r.cmd.label() }

// Start begins an utterance; the process starts at Finish.
func (r *Recognizer) Start(ctx context.Context) (pipeline.Utterance, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return &utterance{r: r}, nil
}

type utterance struct {
	r       *Recognizer
	samples []int16
	done    bool
	dropped bool
}

// Write buffers a copy of samples and returns "".
func (u *utterance) Write(samples []int16) (string, error) {
	if u.done {
		return "", fmt.Errorf("%s: Write after Finish or Close", u.r.cmd.name)
	}
	if room := u.r.max - len(u.samples); len(samples) > room {
		if !u.dropped {
			u.dropped = true
			u.r.log.Warn("utterance longer than max_duration; dropping the rest")
		}
		samples = samples[:room]
	}
	u.samples = append(u.samples, samples...)
	return "", nil
}

// Finish runs the command on the utterance and returns its stdout, trimmed.
// An empty utterance returns "" without running anything.
func (u *utterance) Finish(ctx context.Context) (string, error) {
	if u.done {
		return "", fmt.Errorf("%s: Finish called twice or after Close", u.r.cmd.name)
	}
	u.done = true
	samples := u.samples
	u.samples = nil
	if len(samples) == 0 {
		return "", nil
	}
	var in bytes.Buffer
	if err := wav.Encode(&in, audio.Mono16k, samples); err != nil {
		return "", err
	}
	c := u.r.cmd
	rctx, cancel := context.WithTimeoutCause(ctx, c.timeout, errTimeout)
	defer cancel()
	cmd, stderr := c.cmd(rctx)
	cmd.Stdin = &in
	out := &limitBuffer{max: maxTranscript}
	cmd.Stdout = out
	if err := cmd.Run(); err != nil {
		return "", c.fail(ctx, rctx, err, stderr)
	}
	if out.over {
		return "", fmt.Errorf("%s: %w: transcript longer than %d bytes", c.name, pipeline.ErrBadResponse, maxTranscript)
	}
	return strings.TrimSpace(strings.ToValidUTF8(out.buf.String(), "\uFFFD")), nil
}

// Close drops the buffered audio. It is idempotent.
func (u *utterance) Close() error {
	u.done = true
	u.samples = nil
	return nil
}

// limitBuffer keeps the first max bytes and notes that more came.
type limitBuffer struct {
	buf  bytes.Buffer
	max  int
	over bool
}

func (l *limitBuffer) Write(p []byte) (int, error) {
	if room := l.max - l.buf.Len(); len(p) > room {
		l.over = true
		l.buf.Write(p[:max(room, 0)])
		return len(p), nil
	}
	return l.buf.Write(p)
}
