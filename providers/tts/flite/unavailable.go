//go:build !(cgo && linux)

package flite

import (
	"context"
	"errors"

	"github.com/voicegate/voicegate/audio"
	"github.com/voicegate/voicegate/pipeline"
)

var _ pipeline.Synthesizer = (*Synthesizer)(nil)

var errNotBuilt = errors.New("flite: built without cgo; rebuild with CGO_ENABLED=1 on Linux with flite1-dev")

// Available reports whether this build includes the Flite engine. This one
// does not.
func Available() bool { return false }

// Synthesizer is unusable in this build.
type Synthesizer struct{}

// New reports that this build has no Flite engine.
func New(cfg Config) (*Synthesizer, error) { return nil, errNotBuilt }

// Name is "flite".
func (s *Synthesizer) Name() string { return "flite" }

// Format is 16 kHz mono, what the engine would produce.
func (s *Synthesizer) Format() audio.Format { return audio.Mono16k }

// Synthesize reports that this build has no Flite engine.
func (s *Synthesizer) Synthesize(ctx context.Context, text string, emit func(pcm []int16) error) error {
	return errNotBuilt
}
