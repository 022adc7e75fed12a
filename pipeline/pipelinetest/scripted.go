package pipelinetest

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/voicegate/voicegate/audio"
	"github.com/voicegate/voicegate/pipeline"
)

// Scripted is a Recognizer that "hears" its transcripts in order, one per
// utterance, cycling when they run out. As audio arrives it offers the words
// as partials, one more word per PartialEvery of audio; Finish waits Latency
// and returns the whole transcript. It lets tests drive the pipeline with
// synthetic audio.
type Scripted struct {
	Transcripts  []string
	Latency      time.Duration // Finish's delay
	PartialEvery time.Duration // default 200ms of audio per partial word

	mu   sync.Mutex
	next int
}

var _ pipeline.Recognizer = (*Scripted)(nil)

// Name is "scripted".
func (s *Scripted) Name() string { return "scripted" }

// NewScripted returns a Scripted recognizer hearing transcripts in turn.
func NewScripted(transcripts ...string) *Scripted { return &Scripted{Transcripts: transcripts} }

// ScriptedConfig is a Scripted recognizer's settings as a config file gives
// them. The zero value works.
type ScriptedConfig struct {
	// Transcripts are heard in turn, one per utterance. Default
	// DefaultTranscript alone.
	Transcripts []string `yaml:"transcripts"`
	// Latency is how long Finish takes. Default 0.
	Latency time.Duration `yaml:"latency"`
	// PartialEvery is how much audio reveals one more word of the
	// transcript as a partial. Default 200ms.
	PartialEvery time.Duration `yaml:"partial_every"`
}

// DefaultTranscript is what a Scripted recognizer made from a config without
// transcripts hears.
const DefaultTranscript = "hello there"

// NewScriptedFrom returns the Scripted recognizer c describes. Unlike
// NewScripted with no transcripts, which hears nothing, it falls back to
// DefaultTranscript.
func NewScriptedFrom(c ScriptedConfig) *Scripted {
	t := append([]string(nil), c.Transcripts...)
	if len(t) == 0 {
		t = []string{DefaultTranscript}
	}
	return &Scripted{Transcripts: t, Latency: c.Latency, PartialEvery: c.PartialEvery}
}

// Start begins the next utterance.
func (s *Scripted) Start(ctx context.Context) (pipeline.Utterance, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	text := ""
	if len(s.Transcripts) > 0 {
		text = s.Transcripts[s.next%len(s.Transcripts)]
		s.next++
	}
	s.mu.Unlock()
	every := s.PartialEvery
	if every == 0 {
		every = 200 * time.Millisecond
	}
	return &scriptedUtterance{words: strings.Fields(text), text: text, latency: s.Latency, every: audio.Mono16k.Samples(every)}, nil
}

type scriptedUtterance struct {
	words   []string
	text    string
	latency time.Duration
	every   int
	samples int
	shown   int
	partial string
	closed  bool
}

func (u *scriptedUtterance) Write(samples []int16) (string, error) {
	u.samples += len(samples)
	if n := min(u.samples/u.every, len(u.words)); n > u.shown {
		u.shown = n
		u.partial = strings.Join(u.words[:n], " ")
	}
	return u.partial, nil
}

func (u *scriptedUtterance) Finish(ctx context.Context) (string, error) {
	if err := pipeline.Sleep(ctx, u.latency); err != nil {
		return "", err
	}
	return u.text, nil
}

func (u *scriptedUtterance) Close() error {
	u.closed = true
	return nil
}
