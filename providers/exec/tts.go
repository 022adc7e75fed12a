package exec

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/voicegate/voicegate/audio"
	"github.com/voicegate/voicegate/pipeline"
)

// TTSConfig configures a Synthesizer that runs a command per reply.
type TTSConfig struct {
	// Name labels the provider in logs and errors. Default "exec".
	Name string `yaml:"name"`
	// Command is the argv, e.g. ["piper", "--model", "en_US-amy-low.onnx",
	// "--output-raw"]. It reads the text on stdin and writes mono PCM16LE
	// at SampleRate to stdout as it goes. Required.
	Command []string `yaml:"command"`
	// SampleRate the command writes, one of audio.SupportedRates. Required.
	SampleRate int `yaml:"sample_rate"`
	// Env is added to the gateway's environment (KEY=VALUE).
	Env []string `yaml:"env"`
	// Dir is the working directory; empty is the gateway's.
	Dir string `yaml:"dir"`
	// Timeout bounds one run. Default 60 s.
	Timeout time.Duration `yaml:"timeout"`
	// Content says whether stderr may go into errors; set by the program,
	// not in the file.
	Content `yaml:"-"`
}

// Synthesizer runs Command once per Synthesize call. It is safe for
// concurrent use.
type Synthesizer struct {
	cmd    command
	format audio.Format
	log    *zap.Logger
}

var _ pipeline.Synthesizer = (*Synthesizer)(nil)

// NewSynthesizer checks that the command exists and returns a Synthesizer.
// A nil logger logs nothing.
func NewSynthesizer(cfg TTSConfig, logger *zap.Logger) (*Synthesizer, error) {
	c, err := newCommand(cfg.Name, "tts", cfg.Command, cfg.Env, cfg.Dir, cfg.Timeout, 60*time.Second, cfg.Content)
	if err != nil {
		return nil, err
	}
	f := audio.Format{SampleRate: cfg.SampleRate, Channels: 1}
	if err := f.Validate(); err != nil {
		return nil, fmt.Errorf("provider %s: sample_rate: %w", c.name, err)
	}
	if logger == nil {
		logger = zap.NewNop()
	}
	return &Synthesizer{cmd: c, format: f, log: logger.With(zap.String("provider", c.name))}, nil
}

// Name is "<name>:<command>", e.g. "exec:piper".
func (s *Synthesizer) Name() string { return s.cmd.label() }

// Format is mono at the configured sample rate.
func (s *Synthesizer) Format() audio.Format { return s.format }

// Synthesize runs the command with text on stdin and emits its stdout as
// it is written. The slice passed to emit is reused after emit returns. If
// emit fails or ctx ends, the process is killed.
func (s *Synthesizer) Synthesize(ctx context.Context, text string, emit func(pcm []int16) error) error {
	if strings.TrimSpace(text) == "" {
		return nil
	}
	c := s.cmd
	rctx, cancel := context.WithTimeoutCause(ctx, c.timeout, errTimeout)
	defer cancel()
	cmd, stderr := c.cmd(rctx)
	cmd.Stdin = strings.NewReader(text)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return c.fail(ctx, rctx, err, stderr)
	}
	// A grandchild that escaped the kill could hold stdout open; closing our
	// end unblocks the read below.
	stop := context.AfterFunc(rctx, func() { _ = stdout.Close() })
	defer stop()

	emitErr := pump(stdout, emit)
	if emitErr != nil {
		cancel() // kill it: nobody wants the rest
	}
	werr := cmd.Wait()
	switch {
	case emitErr != nil:
		return emitErr
	case rctx.Err() != nil, werr != nil:
		if werr == nil {
			werr = rctx.Err()
		}
		return c.fail(ctx, rctx, werr, stderr)
	}
	return nil
}

// pump reads PCM16LE from r and emits it as it comes. It returns emit's
// error; read errors end the pump (Wait reports why the process failed).
func pump(r io.Reader, emit func([]int16) error) error {
	var emitErr error
	audio.ReadPCM16(r, 4096, func(pcm []int16) error {
		emitErr = emit(pcm)
		return emitErr
	})
	return emitErr
}
