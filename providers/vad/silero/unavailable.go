//go:build !(cgo && linux)

package silero

import (
	"errors"
	"fmt"

	"github.com/voicegate/voicegate/audio/vad"
	"github.com/voicegate/voicegate/pipeline"
)

var _ pipeline.VoiceActivity = (*VAD)(nil)

// errNotBuilt wraps errors.ErrUnsupported: the built-in default falls back
// to the engine it replaces.
var errNotBuilt = fmt.Errorf("silero: built without cgo; rebuild with CGO_ENABLED=1 on Linux: %w", errors.ErrUnsupported)

// Available reports whether this build includes the engine. This one does
// not.
func Available() bool { return false }

// VAD is unusable in this build.
type VAD struct{}

// New reports that this build has no engine.
func New(Config) (*VAD, error) { return nil, errNotBuilt }

// Name is "silero".
func (v *VAD) Name() string { return "silero" }

// NewClassifier reports that this build has no engine.
func (v *VAD) NewClassifier() (vad.Classifier, error) { return nil, errNotBuilt }

// Close does nothing.
func (v *VAD) Close() error { return nil }
