package pipeline

import (
	"context"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/voicegate/voicegate/audio"
	"github.com/voicegate/voicegate/audio/vad"
)

// heardUtterance gives the same partial for all its audio.
type heardUtterance struct{ partial string }

func (u heardUtterance) Write([]int16) (string, error)          { return u.partial, nil }
func (u heardUtterance) Finish(context.Context) (string, error) { return u.partial, nil }
func (heardUtterance) Close() error                             { return nil }

// TestProcessFrameAllocatesNothing runs the input loop's per-frame path
// in its steady states, speech over no reply and over a paused one, and
// counts allocations.
func TestProcessFrameAllocatesNothing(t *testing.T) {
	for _, over := range []bool{false, true} {
		name := "no reply"
		if over {
			name = "paused reply"
		}
		t.Run(name, func(t *testing.T) {
			s, err := NewSession(Config{
				Conversation: NewConversation("", 0),
				Stages: Stages{
					ASR: RecognizerFunc(func(context.Context) (Utterance, error) { return heardUtterance{"mm hm"}, nil }),
					LLM: GeneratorFunc(func(context.Context, []Message, func(string) error) error { return nil }),
				},
				TextOnly: true,
				Turn:     TurnConfig{BargeInMinSpeech: 5 * time.Second},
			})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			l := &loop{s: s, out: OutputFunc(func(Event) {}), tt: s.cfg.Turns, det: vad.New(s.cfg.Turns.VAD, audio.Mono16k.SampleRate), turns: make(chan *job, 4)}
			l.prepare()
			if over {
				l.replies = append(l.replies, l.newTurn(ctx))
			}
			l.frame = make([]int16, 320) // silence first: the detector learns the floor
			for range 20 {
				l.processFrame(ctx)
			}
			frame := make([]int16, 320)
			pos := 0
			next := func() {
				for i := range frame {
					tt := float64(pos+i) / 16000
					frame[i] = audio.Clamp16(6000 * (math.Sin(2*math.Pi*150*tt) + 0.5*math.Sin(2*math.Pi*300*tt)))
				}
				pos += len(frame)
				l.frame = append(l.frame[:0], frame...)
				l.processFrame(ctx)
			}
			for range 50 { // speech starts, the first utterance's buffers grow
				next()
			}
			if l.pending == nil || l.holding() != over {
				t.Fatalf("pending %v, holding %v; want a turn, held %v", l.pending != nil, l.holding(), over)
			}
			if n := testing.AllocsPerRun(200, next); n != 0 {
				t.Errorf("%v allocs per frame", n)
			}
			l.abandonUtterance()
			l.endHold()
		})
	}
}

func TestWords(t *testing.T) {
	en := newWords(TurnConfig{Backchannels: Backchannels("en"), Hesitations: Hesitations("en")}, "en")
	zh := newWords(TurnConfig{Backchannels: Backchannels("zh"), Hesitations: Hesitations("zh")}, "zh")
	tests := []struct {
		w           words
		transcript  string
		substantive int
		hesitant    bool
		ambiguous   bool
	}{
		{en, "", 0, false, false},
		{en, "Mm-hm.", 0, false, false},
		{en, "mhm", 0, false, false},
		{en, "uh huh", 0, false, false},
		{en, "Yeah, okay!", 0, false, false},
		{en, "yeah wait", 1, false, false},
		{en, "stop", 1, false, false},
		{en, "Please STOP now.", 3, false, false},
		{en, "I want um", 2, true, false},
		{en, "coffee and", 1, true, false},
		{en, "coffee, and...", 1, true, false},
		{en, "the band", 1, false, false},
		{en, "Um?", 0, true, false},
		{en, "um uh hmm er", 0, true, false},
		{en, "uh, stop", 1, false, false},
		{en, "I think so", 3, false, true},
		{en, "Who did you talk to?", 5, false, true},
		{en, "a cup of", 2, false, true},
		{en, "so what", 2, false, false},
		{zh, "嗯", 0, true, false},
		{zh, "嗯嗯。", 0, true, false},
		{zh, "对对", 0, false, false},
		{zh, "好", 0, false, false},
		{zh, "停一下", 3, false, false},
		{zh, "我想要那个", 3, true, false},
		{zh, "然后", 0, true, false},
		{zh, "呃", 0, true, false},
		{zh, "好的", 2, false, false},
	}
	for _, tc := range tests {
		if got := tc.w.substantive(tc.transcript); got != tc.substantive {
			t.Errorf("substantive(%q) = %d, want %d", tc.transcript, got, tc.substantive)
		}
		if got := tc.w.hesitant(tc.transcript); got != tc.hesitant {
			t.Errorf("hesitant(%q) = %v, want %v", tc.transcript, got, tc.hesitant)
		}
		if got := tc.w.ambiguousEnd(tc.transcript); got != tc.ambiguous {
			t.Errorf("ambiguousEnd(%q) = %v, want %v", tc.transcript, got, tc.ambiguous)
		}
	}
}

func TestTurnConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		c    TurnConfig
		want string // in the error; "" for none
	}{
		{"zero", TurnConfig{}, ""},
		{"defaults", DefaultTurnConfig(), ""},
		{"negative", TurnConfig{BargeInMinSpeech: -time.Second}, "negative"},
		{"min above max", TurnConfig{EndSilenceMin: time.Second, EndSilenceMax: 500 * time.Millisecond}, "above"},
		{"too short", TurnConfig{EndSilenceMin: 10 * time.Millisecond}, "turn.end_silence_min"},
		{"resume too late", TurnConfig{ResumeAfter: time.Minute}, "turn.resume_after"},
		{"too many words", TurnConfig{Backchannels: make([]string, maxWords+1)}, "at most"},
	}
	for _, tc := range tests {
		err := tc.c.Validate()
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: %v, want an error with %q", tc.name, err, tc.want)
		}
	}
	if _, err := NewSession(Config{Conversation: NewConversation("", 0), Stages: Stages{LLM: GeneratorFunc(nil)}, TextOnly: true,
		Turn: TurnConfig{EndSilenceMax: time.Hour}}); err == nil {
		t.Error("NewSession took turn.end_silence_max 1h")
	}
}

// TestPlayedThroughPause: a client that holds its playback on
// EventReplyPaused has played nothing during the pause; one that plays on
// has, so at the resume the pacing refills its queue.
func TestPlayedThroughPause(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		pauses bool
		want   time.Duration
	}{
		{true, 500 * time.Millisecond},   // 1.5 s since the first audio, 1 s of it paused
		{false, 1500 * time.Millisecond}, // the client's queue ran on through the pause
	} {
		now := t0
		s, err := NewSession(Config{Conversation: NewConversation("", 0), Stages: Stages{LLM: GeneratorFunc(nil)}, TextOnly: true,
			PlaybackPauses: tc.pauses, Now: func() time.Time { return now }})
		if err != nil {
			t.Fatal(err)
		}
		r := &responder{s: s, t: &job{}, firstAudio: t0}
		r.t.gate.pause(t0.Add(100*time.Millisecond), func() {})
		r.t.gate.resume(t0.Add(1100*time.Millisecond), func() {})
		now = t0.Add(1500 * time.Millisecond)
		if got := r.played(); got != tc.want {
			t.Errorf("PlaybackPauses %v: played %v, want %v", tc.pauses, got, tc.want)
		}
	}
}
