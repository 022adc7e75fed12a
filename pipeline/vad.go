package pipeline

import (
	"errors"
	"fmt"
	"io"

	"github.com/voicegate/voicegate/audio"
	"github.com/voicegate/voicegate/audio/vad"
)

// VoiceActivity is a voice activity model: it makes the per-window speech
// decision of each session's detector (vad.NewWith), while the detector
// keeps the endpointing (Config.VAD, TurnTaking.VAD). Stages.VAD nil is
// the energy detector of package vad.
//
// NewClassifier is called once per session, from Run, and may be called
// concurrently for different sessions; the Classifier it returns is used by
// that session alone, at 16 kHz (audio.Mono16k). If the Classifier is an
// io.Closer, Run closes it when it returns.
type VoiceActivity interface {
	NewClassifier() (vad.Classifier, error)
}

// ErrVoiceActivityFull is what a VoiceActivity's NewClassifier wraps when
// it holds as many instances as it may: the session then listens with the
// energy detector of package vad instead.
var ErrVoiceActivityFull = errors.New("pipeline: voice activity model at capacity")

// VoiceActivityFunc adapts a function to VoiceActivity.
type VoiceActivityFunc func() (vad.Classifier, error)

// NewClassifier calls f.
func (f VoiceActivityFunc) NewClassifier() (vad.Classifier, error) { return f() }

// newClassifier returns the session's classifier (nil: the energy
// detector) and what releases it.
func (s *Session) newClassifier() (vad.Classifier, func(), error) {
	va := s.cfg.Stages.VAD
	if va == nil {
		return nil, func() {}, nil
	}
	c, err := va.NewClassifier()
	if errors.Is(err, ErrVoiceActivityFull) {
		return nil, func() {}, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("pipeline: vad %s: %w", NameOf(va), err)
	}
	if c == nil {
		return nil, nil, fmt.Errorf("pipeline: vad %s: no classifier", NameOf(va))
	}
	release := func() {}
	if cl, ok := c.(io.Closer); ok {
		release = func() { cl.Close() }
	}
	return c, release, nil
}

// newDetector returns a detector with cfg over the session's classifier.
func (l *loop) newDetector(cfg vad.Config) *vad.Detector {
	if l.cls == nil {
		return vad.New(cfg, audio.Mono16k.SampleRate)
	}
	return vad.NewWith(cfg, audio.Mono16k.SampleRate, l.cls)
}
