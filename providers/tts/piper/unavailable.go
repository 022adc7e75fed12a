//go:build !(cgo && linux)

package piper

import (
	"context"
	"errors"
	"fmt"

	"github.com/voicegate/voicegate/audio"
	"github.com/voicegate/voicegate/pipeline"
)

var _ pipeline.Synthesizer = (*Synthesizer)(nil)

// errNotBuilt wraps errors.ErrUnsupported: the built-in default falls back
// to the engine it replaces.
var errNotBuilt = fmt.Errorf("piper: built without cgo; rebuild with CGO_ENABLED=1 on Linux (sherpa-onnx): %w", errors.ErrUnsupported)

// Available reports whether this build includes the sherpa-onnx engine.
// This one does not.
func Available() bool { return false }

// Synthesizer is unusable in this build.
type Synthesizer struct{}

// New reports that this build has no sherpa-onnx engine.
func New(cfg Config) (*Synthesizer, error) { return nil, errNotBuilt }

// Name is "piper".
func (s *Synthesizer) Name() string { return "piper" }

// Format is 22050 Hz mono, the default voice's rate.
func (s *Synthesizer) Format() audio.Format { return audio.Format{SampleRate: 22050, Channels: 1} }

// Synthesize reports that this build has no sherpa-onnx engine.
func (s *Synthesizer) Synthesize(ctx context.Context, text string, emit func(pcm []int16) error) error {
	return errNotBuilt
}

// Close does nothing.
func (s *Synthesizer) Close() error { return nil }
