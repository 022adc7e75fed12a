package fallback_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/voicegate/voicegate/audio"
	"github.com/voicegate/voicegate/audio/vad"
	"github.com/voicegate/voicegate/pipeline"
	"github.com/voicegate/voicegate/pipeline/pipelinetest"
	"github.com/voicegate/voicegate/providers/fallback"
	"github.com/voicegate/voicegate/providers/llm/echo"
)

var errDown = fmt.Errorf("connection refused: %w", pipeline.ErrUnavailable)

// outage is a provider of every stage whose server is down.
type outage struct{ name string }

func (d outage) Name() string                                      { return d.name }
func (d outage) Start(context.Context) (pipeline.Utterance, error) { return nil, errDown }
func (d outage) Format() audio.Format                              { return audio.Mono16k }
func (d outage) Generate(context.Context, []pipeline.Message, func(string) error) error {
	return errDown
}
func (d outage) Synthesize(context.Context, string, func([]int16) error) error { return errDown }

// TestChainsInATurn: in a session, each stage's chain has a member that is
// down and one that answers; the turn's trace names the one that answered.
func TestChainsInATurn(t *testing.T) {
	asr, err := fallback.Recognizer(nil, outage{"asr-down"}, pipelinetest.NewScripted("hello there"))
	if err != nil {
		t.Fatal(err)
	}
	llm, err := fallback.Generator(nil, outage{"llm-down"}, &echo.Echo{})
	if err != nil {
		t.Fatal(err)
	}
	tts, err := fallback.Synthesizer(nil, outage{"tts-down"}, &pipelinetest.Tone{})
	if err != nil {
		t.Fatal(err)
	}
	if got := pipeline.NameOf(llm); got != "llm-down>echo" {
		t.Fatalf("chain name %q", got)
	}
	sess, err := pipeline.NewSession(pipeline.Config{
		Stages:       pipeline.Stages{ASR: asr, LLM: llm, TTS: tts},
		Conversation: pipeline.NewConversation("", 0),
		VAD:          vad.Config{Silence: 200 * time.Millisecond},
		InboxFrames:  2000,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	rec := pipelinetest.NewRecorder()
	done := make(chan error, 1)
	go func() { done <- sess.Run(ctx, rec) }()
	defer func() { cancel(); <-done }()

	speech := pipelinetest.Concat(pipelinetest.Silence(300*time.Millisecond, 16000),
		pipelinetest.Voice(600*time.Millisecond, 16000), pipelinetest.Silence(400*time.Millisecond, 16000))
	for f := speech; len(f) > 0; f = f[min(320, len(f)):] {
		sess.WriteAudio(f[:min(320, len(f))])
	}
	lat, _, err := rec.Wait(ctx, 0, pipelinetest.Kind(pipeline.EventTurnLatency))
	if err != nil {
		t.Fatal(err)
	}
	if tr := lat.Trace; tr.ASR != "scripted" || tr.LLM != "echo" || tr.TTS != "tone" || lat.Reason != 0 {
		t.Fatalf("trace names asr %q llm %q tts %q (reason %v); want the members that answered", tr.ASR, tr.LLM, tr.TTS, lat.Reason)
	}
}
