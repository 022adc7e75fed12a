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
	if err := sleep(ctx, u.latency); err != nil {
		return "", err
	}
	return u.text, nil
}

func (u *scriptedUtterance) Close() error {
	u.closed = true
	return nil
}
