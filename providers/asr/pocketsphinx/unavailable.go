//go:build !(cgo && linux)

package pocketsphinx

import (
	"context"
	"errors"

	"github.com/voicegate/voicegate/pipeline"
)

var _ pipeline.Recognizer = (*Recognizer)(nil)

var errNotBuilt = errors.New("pocketsphinx: built without cgo; rebuild with CGO_ENABLED=1 on Linux with libpocketsphinx-dev")

// Available reports whether this build includes the PocketSphinx engine. This
// one does not.
func Available() bool { return false }

// Recognizer is unusable in this build.
type Recognizer struct{}

// New reports that this build has no PocketSphinx engine.
func New(cfg Config) (*Recognizer, error) { return nil, errNotBuilt }

// Name is "pocketsphinx".
func (r *Recognizer) Name() string { return "pocketsphinx" }

// Start reports that this build has no PocketSphinx engine.
func (r *Recognizer) Start(ctx context.Context) (pipeline.Utterance, error) { return nil, errNotBuilt }

// Close does nothing.
func (r *Recognizer) Close() error { return nil }
