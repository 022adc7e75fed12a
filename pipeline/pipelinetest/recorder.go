package pipelinetest

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/voicegate/voicegate/pipeline"
)

// Recorder is a pipeline.Output that keeps every event (audio copied) and
// lets a test wait for one. It puts audio "on the wire" at once, so audio
// of a cut turn is dropped as a connection would drop it.
type Recorder struct {
	mu     sync.Mutex
	events []pipeline.Event
	signal chan struct{}
}

var _ pipeline.Output = (*Recorder)(nil)

// NewRecorder returns an empty Recorder.
func NewRecorder() *Recorder { return &Recorder{signal: make(chan struct{})} }

// Send records ev.
func (r *Recorder) Send(ev pipeline.Event) {
	if ev.Kind == pipeline.EventAudio {
		if ev.Handle != nil && !ev.Handle.AudioOnWire(ev.Sentence, time.Now()) {
			return
		}
		ev.Audio = append([]int16(nil), ev.Audio...)
	}
	r.mu.Lock()
	r.events = append(r.events, ev)
	close(r.signal)
	r.signal = make(chan struct{})
	r.mu.Unlock()
}

// Events returns a copy of what was recorded.
func (r *Recorder) Events() []pipeline.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]pipeline.Event(nil), r.events...)
}

// Wait blocks until an event matching ok has been recorded, at or after
// index from, and returns it with its index.
func (r *Recorder) Wait(ctx context.Context, from int, ok func(pipeline.Event) bool) (pipeline.Event, int, error) {
	for {
		r.mu.Lock()
		for i := from; i < len(r.events); i++ {
			if ok(r.events[i]) {
				ev := r.events[i]
				r.mu.Unlock()
				return ev, i, nil
			}
		}
		sig := r.signal
		r.mu.Unlock()
		select {
		case <-sig:
		case <-ctx.Done():
			return pipeline.Event{}, 0, fmt.Errorf("waiting for event: %w; got %s", ctx.Err(), r.Summary())
		}
	}
}

// Kind matches events of kind k.
func Kind(k pipeline.EventKind) func(pipeline.Event) bool {
	return func(ev pipeline.Event) bool { return ev.Kind == k }
}

// Summary lists the recorded kinds, audio collapsed, for failure messages.
func (r *Recorder) Summary() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var b strings.Builder
	audioRun := 0
	for _, ev := range r.events {
		if ev.Kind == pipeline.EventAudio {
			audioRun++
			continue
		}
		if audioRun > 0 {
			fmt.Fprintf(&b, "audio×%d ", audioRun)
			audioRun = 0
		}
		fmt.Fprintf(&b, "%s(%d", ev.Kind, ev.Turn)
		if ev.Text != "" {
			fmt.Fprintf(&b, " %q", ev.Text)
		}
		if ev.Err != nil {
			fmt.Fprintf(&b, " %v", ev.Err)
		}
		b.WriteString(") ")
	}
	if audioRun > 0 {
		fmt.Fprintf(&b, "audio×%d", audioRun)
	}
	return b.String()
}
