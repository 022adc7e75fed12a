package pipeline_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/voicegate/voicegate/pipeline"
	"github.com/voicegate/voicegate/pipeline/pipelinetest"
)

func TestCancelReasonString(t *testing.T) {
	tests := []struct {
		r    pipeline.CancelReason
		want string
	}{
		{0, ""},
		{pipeline.CancelBargeIn, "barge_in"},
		{pipeline.CancelInterrupt, "interrupt"},
		{pipeline.CancelError, "error"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := tt.r.String(); got != tt.want {
				t.Fatalf("String() = %q, want %q", got, tt.want)
			}
			if got := tt.r.Error(); got != tt.want {
				t.Fatalf("Error() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestTurnCut(t *testing.T) {
	var turn pipeline.Turn
	at := time.Unix(100, 0)
	if !turn.AudioOnWire(1, at) || !turn.AudioOnWire(2, at.Add(time.Second)) {
		t.Fatal("audio refused before the cut")
	}
	if turn.IsCut() || !turn.FirstAudioSent().Equal(at) {
		t.Fatalf("cut %v, first audio %v", turn.IsCut(), turn.FirstAudioSent())
	}
	if n := turn.Cut(); n != 2 {
		t.Fatalf("Cut() = %d sentences on the wire, want 2", n)
	}
	if turn.AudioOnWire(3, at.Add(2*time.Second)) || !turn.IsCut() {
		t.Fatal("audio accepted after the cut")
	}
}

// TestCancelCause: a cut turn's stages see why through context.Cause.
func TestCancelCause(t *testing.T) {
	causes := make(chan error, 1)
	llm := pipeline.GeneratorFunc(func(ctx context.Context, _ []pipeline.Message, emit func(string) error) error {
		if err := emit("Thinking"); err != nil {
			return err
		}
		<-ctx.Done()
		causes <- context.Cause(ctx)
		return ctx.Err()
	})
	h := start(t, pipeline.Config{Stages: pipeline.Stages{LLM: llm, TTS: &pipelinetest.Tone{}}, TextOnly: true})
	if err := h.sess.SubmitText("go on"); err != nil {
		t.Fatal(err)
	}
	h.wait(0, pipeline.EventTextDelta)
	h.sess.Interrupt()
	c, _ := h.wait(0, pipeline.EventResponseCancelled)
	cause := <-causes
	var r pipeline.CancelReason
	if !errors.As(cause, &r) || r != pipeline.CancelInterrupt || c.Reason != r {
		t.Fatalf("cause %v, event reason %v", cause, c.Reason)
	}
}

// BenchmarkAudioOnWire is an Output's per-frame call. It must not allocate.
func BenchmarkAudioOnWire(b *testing.B) {
	var turn pipeline.Turn
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		turn.AudioOnWire(1, now)
	}
}
