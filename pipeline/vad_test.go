package pipeline_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/voicegate/voicegate/audio"
	"github.com/voicegate/voicegate/audio/vad"
	"github.com/voicegate/voicegate/pipeline"
	"github.com/voicegate/voicegate/pipeline/pipelinetest"
	"github.com/voicegate/voicegate/providers/llm/echo"
)

// loudness is a Classifier: a 30 ms window is speech when louder than
// -40 dBFS. It counts its calls and its Close.
type loudness struct {
	windows, closes *atomic.Int32
}

func (l loudness) Window() int { return 480 }
func (l loudness) Reset()      {}
func (l loudness) Close() error {
	l.closes.Add(1)
	return nil
}
func (l loudness) Speech(w []int16) float32 {
	l.windows.Add(1)
	if audio.DBFS(audio.RMS(w)) > -40 {
		return 1
	}
	return 0
}

type loudnessVAD struct {
	made, windows, closes atomic.Int32
	fail                  error
}

func (v *loudnessVAD) Name() string { return "loudness" }
func (v *loudnessVAD) NewClassifier() (vad.Classifier, error) {
	if v.fail != nil {
		return nil, v.fail
	}
	v.made.Add(1)
	return loudness{windows: &v.windows, closes: &v.closes}, nil
}

func TestStagesVAD(t *testing.T) {
	va := &loudnessVAD{}
	if got := pipeline.NameOf(va); got != "loudness" {
		t.Errorf("NameOf %q", got)
	}
	// Cleanups run last first: this one after start's has ended Run.
	t.Cleanup(func() {
		if m, c := va.made.Load(), va.closes.Load(); m != 1 || c != 1 {
			t.Errorf("%d classifiers made, %d closed; want one, closed once Run returned", m, c)
		}
	})
	h := start(t, pipeline.Config{Stages: pipeline.Stages{ASR: pipelinetest.NewScripted("hello"), LLM: &echo.Echo{}, VAD: va}, TextOnly: true})

	// New settings make a new detector over the same classifier.
	if err := h.sess.SetTurnTaking(pipeline.TurnTaking{VAD: vad.Config{Silence: 300 * time.Millisecond}}); err != nil {
		t.Fatal(err)
	}
	h.speak(16000, time.Second) // 300 ms of silence, 1 s of voice, 400 ms of silence
	started, _ := h.wait(0, pipeline.EventSpeechStarted)
	h.wait(0, pipeline.EventSpeechStopped)
	h.wait(0, pipeline.EventTranscriptFinal)
	if started.Offset < 0 || started.Offset > 300*time.Millisecond {
		// The offset is where the prefix (up to 300 ms before the start) begins.
		t.Errorf("speech started at %v, want the voice's start (300ms) less up to the padding", started.Offset)
	}
	if w := va.windows.Load(); w < 43 || w > 56 { // up to 1.7 s in 30 ms windows; past the end of speech (1.3 s) at least
		t.Errorf("%d windows classified, want 43 to 56", w)
	}
	if va.closes.Load() != 0 {
		t.Error("classifier closed while Run runs")
	}
}

func TestStagesVADFails(t *testing.T) {
	boom := errors.New("no model here")
	tests := []struct {
		name string
		va   pipeline.VoiceActivity
		want string
	}{
		{"an error", &loudnessVAD{fail: boom}, "pipeline: vad loudness: no model here"},
		{"no classifier", pipeline.VoiceActivityFunc(func() (vad.Classifier, error) { return nil, nil }), "pipeline: vad pipeline.VoiceActivityFunc: no classifier"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sess, err := pipeline.NewSession(pipeline.Config{
				Stages:       pipeline.Stages{LLM: &echo.Echo{}, VAD: tt.va},
				Conversation: pipeline.NewConversation("", 0),
				TextOnly:     true,
			})
			if err != nil {
				t.Fatal(err)
			}
			if err := sess.Run(context.Background(), pipelinetest.NewRecorder()); err == nil || err.Error() != tt.want {
				t.Fatalf("Run: %v, want %q", err, tt.want)
			}
			if err := sess.SetTurnTaking(pipeline.TurnTaking{}); !errors.Is(err, pipeline.ErrSessionClosed) {
				t.Errorf("SetTurnTaking after a failed Run: %v", err)
			}
		})
	}
}

// TestVADFull: a voice activity model at capacity leaves the session to the
// energy detector, which still hears the user.
func TestVADFull(t *testing.T) {
	va := &loudnessVAD{fail: fmt.Errorf("loudness: all in use: %w", pipeline.ErrVoiceActivityFull)}
	h := start(t, pipeline.Config{Stages: pipeline.Stages{ASR: pipelinetest.NewScripted("hello"), LLM: &echo.Echo{}, VAD: va}, TextOnly: true})
	h.speak(16000, time.Second)
	h.wait(0, pipeline.EventSpeechStarted)
	h.wait(0, pipeline.EventTranscriptFinal)
	if va.windows.Load() != 0 {
		t.Error("the full model classified windows")
	}
}
