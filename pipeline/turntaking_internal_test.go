package pipeline

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/voicegate/voicegate/audio"
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
			l := s.newLoop(OutputFunc(func(Event) {}), make(chan *job, 4))
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
