//go:build !(cgo && linux)

package sherpa

import (
	"context"
	"errors"

	"github.com/voicegate/voicegate/pipeline"
)

var _ pipeline.Recognizer = (*Recognizer)(nil)

var errNotBuilt = errors.New("sherpa: built without cgo; rebuild with CGO_ENABLED=1 on Linux")

// Available reports whether this build includes the engine. This one does
// not.
func Available() bool { return false }

// Recognizer is unusable in this build.
type Recognizer struct{ kind string }

// New checks cfg and its files, then reports that this build has no
// engine.
func New(cfg Config) (*Recognizer, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if _, err := cfg.locate(); err != nil {
		return nil, err
	}
	return nil, errNotBuilt
}

// Name is "sherpa:" and the model's kind.
func (r *Recognizer) Name() string { return "sherpa:" + r.kind }

// Start reports that this build has no engine.
func (r *Recognizer) Start(context.Context) (pipeline.Utterance, error) { return nil, errNotBuilt }

// Close does nothing.
func (r *Recognizer) Close() error { return nil }
