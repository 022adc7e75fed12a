//go:build !(cgo && linux)

package espeakng

import (
	"context"
	"errors"

	"github.com/voicegate/voicegate/audio"
	"github.com/voicegate/voicegate/pipeline"
)

var _ pipeline.Synthesizer = (*Synthesizer)(nil)

var errNotBuilt = errors.New("espeakng: built without cgo; rebuild with CGO_ENABLED=1 on Linux with libespeak-ng-dev; it runs with libespeak-ng1")

// Available reports whether this build includes the eSpeak NG engine. This
// one does not.
func Available() bool { return false }

// Synthesizer is unusable in this build.
type Synthesizer struct{}

// New reports that this build has no eSpeak NG engine.
func New(cfg Config) (*Synthesizer, error) { return nil, errNotBuilt }

// Name is "espeakng".
func (s *Synthesizer) Name() string { return "espeakng" }

// Format is 22050 Hz mono, what the engine would produce.
func (s *Synthesizer) Format() audio.Format { return audio.Format{SampleRate: 22050, Channels: 1} }

// Synthesize reports that this build has no eSpeak NG engine.
func (s *Synthesizer) Synthesize(ctx context.Context, text string, emit func(pcm []int16) error) error {
	return errNotBuilt
}

// Phonemes reports that this build has no eSpeak NG engine.
func (s *Synthesizer) Phonemes(ctx context.Context, text string) (string, error) {
	return "", errNotBuilt
}
