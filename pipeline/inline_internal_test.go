package pipeline

import (
	"context"
	"math"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/voicegate/voicegate/audio"
	"github.com/voicegate/voicegate/audio/vad"
)

// speechEvents records the speech events of a session and their offsets.
type speechEvents struct {
	mu  sync.Mutex
	got []Event
}

func (r *speechEvents) Send(ev Event) {
	if ev.Kind != EventSpeechStarted && ev.Kind != EventSpeechStopped && ev.Kind != EventInputCommitted {
		return
	}
	r.mu.Lock()
	r.got = append(r.got, Event{Kind: ev.Kind, Offset: ev.Offset})
	r.mu.Unlock()
}

func (r *speechEvents) events() []Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.got)
}

// idle reports whether the loop has nothing left to do with the audio
// written: nothing queued and no speech start waiting for it. With s.mu
// held the loop is between steps.
func (s *Session) idle() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.live != nil && !s.live.started && s.inbox.empty()
}

// TestInlineDetectionMatchesQueued writes the same silence, speech and
// silence frame by frame twice: once with the loop idle before every
// frame, so that the reader runs the detector itself between turns, and
// once with every frame queued for the loop. The speech events and their
// offsets must not depend on where the detector ran, and between turns
// an idle loop must not be handed the audio at all.
func TestInlineDetectionMatchesQueued(t *testing.T) {
	const frame = 320
	var signal []int16
	for i := range 16000 * 5 / 2 { // 0.5 s silence, 1 s voice, 1 s silence
		v := 0.0
		if i >= 8000 && i < 24000 {
			tt := float64(i) / 16000
			env := 0.6 + 0.4*math.Sin(2*math.Pi*4*tt)
			v = 5000 * env * (math.Sin(2*math.Pi*140*tt) + 0.5*math.Sin(2*math.Pi*280*tt))
		}
		signal = append(signal, int16(v))
	}
	run := func(t *testing.T, queued bool) []Event {
		out := &speechEvents{}
		s, err := NewSession(Config{
			Conversation: NewConversation("", 0),
			Stages: Stages{
				ASR: RecognizerFunc(func(context.Context) (Utterance, error) { return heardUtterance{"hello there"}, nil }),
				LLM: GeneratorFunc(func(context.Context, []Message, func(string) error) error { return nil }),
			},
			TextOnly:    true,
			InboxFrames: len(signal)/frame + 1,
		})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- s.Run(ctx, out) }()
		defer func() {
			cancel()
			if err := <-done; err != context.Canceled {
				t.Errorf("Run: %v", err)
			}
		}()
		waitIdle := func() {
			deadline := time.Now().Add(5 * time.Second)
			for !s.idle() {
				if time.Now().After(deadline) {
					t.Fatal("the loop never became idle")
				}
				time.Sleep(100 * time.Microsecond)
			}
		}
		waitIdle()
		if queued {
			s.mu.Lock() // WriteAudio's TryLock fails: every frame is queued
		}
		for i := 0; i < len(signal); i += frame {
			s.WriteAudio(signal[i : i+frame])
			if queued {
				continue
			}
			if i == 8000-frame {
				s.inbox.mu.Lock()
				pushed := cap(s.inbox.slots[0]) != 0
				s.inbox.mu.Unlock()
				if pushed {
					t.Error("silence before the first turn was queued for an idle loop")
				}
			}
			waitIdle()
		}
		if queued {
			s.mu.Unlock()
			s.inbox.wake()
		}
		waitIdle()
		deadline := time.Now().Add(5 * time.Second)
		for len(out.events()) < 3 && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		return out.events()
	}
	inline := run(t, false)
	queued := run(t, true)
	kinds := []EventKind{EventSpeechStarted, EventSpeechStopped, EventInputCommitted}
	for _, tc := range []struct {
		name string
		got  []Event
	}{{"inline", inline}, {"queued", queued}} {
		var got []EventKind
		for _, ev := range tc.got {
			got = append(got, ev.Kind)
		}
		if !slices.Equal(got, kinds) {
			t.Errorf("%s: events %v, want %v", tc.name, got, kinds)
		}
	}
	same := func(a, b Event) bool { return a.Kind == b.Kind && a.Offset == b.Offset }
	if !slices.EqualFunc(inline, queued, same) {
		t.Errorf("inline detection gave %+v, queued %+v", inline, queued)
	}
	// Where a detector of its own, fed the same frames, puts the start.
	cfg := Config{Conversation: NewConversation("", 0), Stages: Stages{LLM: GeneratorFunc(nil)}, TextOnly: true}
	if err := cfg.setDefaults(); err != nil {
		t.Fatal(err)
	}
	det := vad.New(cfg.Turns.VAD, audio.Mono16k.SampleRate)
	want := time.Duration(-1)
	for i := 0; i < len(signal) && want < 0; i += frame {
		if det.Process(signal[i:i+frame]) == vad.SpeechStart {
			want = det.Position() - audio.Mono16k.Duration(len(det.Prefix(nil)))
		}
	}
	if want < 0 {
		t.Fatal("a detector of its own found no speech")
	}
	if len(inline) > 0 && inline[0].Offset != want {
		t.Errorf("speech started at %v, want %v", inline[0].Offset, want)
	}
}
