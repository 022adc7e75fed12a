package conformance_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/voicegate/voicegate/audio"
	"github.com/voicegate/voicegate/audio/vad"
	"github.com/voicegate/voicegate/pipeline/conformance"
	"github.com/voicegate/voicegate/pipeline/pipelinetest"
)

// fakeVA conforms when zero; each field breaks one part of the contract.
type fakeVA struct {
	window      int  // default 480
	outOfRange  bool // reports 2 for speech
	alwaysVoice bool // silence too is speech
	mutate      bool // zeroes its window
	shared      *atomic.Int32
	sticky      bool // Reset forgets nothing
	closeErr    bool // a second Close fails
	fail        error
}

func (f *fakeVA) NewClassifier() (vad.Classifier, error) {
	if f.fail != nil {
		return nil, f.fail
	}
	return &fakeClassifier{f: f}, nil
}

// fakeClassifier: a window louder than -40 dBFS is speech, the more
// surely the less speech it has heard (0.75 for the first window, falling
// towards 0.5), so that its decisions depend on all it has heard.
type fakeClassifier struct {
	f      *fakeVA
	heard  int
	closed bool
}

func (c *fakeClassifier) Window() int {
	if c.f.window != 0 {
		return c.f.window
	}
	return 480
}

func (c *fakeClassifier) Speech(w []int16) float32 {
	loud := audio.DBFS(audio.RMS(w)) > -40
	if c.f.mutate {
		clear(w)
	}
	heard := &c.heard
	if c.f.shared != nil {
		n := int(c.f.shared.Load())
		heard = &n
		defer func() { c.f.shared.Store(int32(n)) }()
	}
	switch {
	case c.f.alwaysVoice:
		return 1
	case !loud:
		return 0
	case c.f.outOfRange:
		return 2
	}
	*heard++
	return 0.5 + 0.25/float32(*heard)
}

func (c *fakeClassifier) Reset() {
	if !c.f.sticky {
		c.heard = 0
	}
}

func (c *fakeClassifier) Close() error {
	if c.closed && c.f.closeErr {
		return errors.New("already closed")
	}
	c.closed = true
	return nil
}

func TestVoiceActivitySuite(t *testing.T) {
	speech := pipelinetest.Voice(time.Second, 16000)
	tests := []struct {
		name string
		va   *fakeVA
		want []string
	}{
		{"conforms", &fakeVA{}, nil},
		{"no classifier", &fakeVA{fail: errors.New("no model")}, []string{"TestVoiceActivity/window and probabilities: NewClassifier: <nil>, no model"}},
		{"window too long", &fakeVA{window: 20000}, []string{"TestVoiceActivity/window and probabilities: Window() = 20000 samples"}},
		{"probability out of range", &fakeVA{outOfRange: true}, []string{"TestVoiceActivity/window and probabilities: speech: window 66 has probability 2"}},
		{"silence is speech", &fakeVA{alwaysVoice: true}, []string{"TestVoiceActivity/silence is not speech: window 0 of silence has probability 1", "TestVoiceActivity/speech is found: events [speech-start]"}},
		{"modifies its window", &fakeVA{mutate: true}, []string{"TestVoiceActivity/window left as it was: Speech modified its window"}},
		{"shared state", &fakeVA{shared: new(atomic.Int32)}, []string{"TestVoiceActivity/independent and concurrent: a classifier used beside others decides otherwise", "TestVoiceActivity/reset: after Reset"}},
		{"reset forgets nothing", &fakeVA{sticky: true}, []string{"TestVoiceActivity/reset: after Reset the decisions differ"}},
		{"close not idempotent", &fakeVA{closeErr: true}, []string{"TestVoiceActivity/close is idempotent: second Close: already closed"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			check(t, func(ctx context.Context) error { return conformance.TestVoiceActivity(ctx, tt.va, speech) }, tt.want)
		})
	}
	if err := conformance.TestVoiceActivity(t.Context(), &fakeVA{}, speech[:100]); err == nil {
		t.Error("a 100-sample clip of speech was accepted")
	}
}
