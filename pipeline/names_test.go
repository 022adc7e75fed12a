package pipeline_test

import (
	"context"
	"testing"
	"time"

	"github.com/voicegate/voicegate/pipeline"
	"github.com/voicegate/voicegate/pipeline/pipelinetest"
	"github.com/voicegate/voicegate/providers/llm/echo"
)

// named gives a Generator a name.
type named struct {
	name string
	pipeline.Generator
}

func (n named) Name() string { return n.name }

func TestNameOf(t *testing.T) {
	var noTTS pipeline.Synthesizer
	tests := []struct {
		name string
		v    any
		want string
	}{
		{"nil", nil, ""},
		{"nil interface", noTTS, ""},
		{"named", &echo.Echo{}, "echo"},
		{"func adapter", pipeline.GeneratorFunc(nil), "pipeline.GeneratorFunc"},
		{"empty name", named{"", &echo.Echo{}}, "pipeline_test.named"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := pipeline.NameOf(tt.v); got != tt.want {
				t.Fatalf("NameOf = %q, want %q", got, tt.want)
			}
		})
	}
}

// The reporting stages wrap a fake and report, on each call, that the
// providers in says answered it, as a fallback chain does.
type reportingLLM struct {
	pipeline.Generator
	says []string
}

func (r reportingLLM) Generate(ctx context.Context, msgs []pipeline.Message, emit func(string) error) error {
	for _, name := range r.says {
		pipeline.Answered(ctx, name)
	}
	return r.Generator.Generate(ctx, msgs, emit)
}

type reportingASR struct {
	pipeline.Recognizer
	says string
}

func (r reportingASR) Start(ctx context.Context) (pipeline.Utterance, error) {
	u, err := r.Recognizer.Start(ctx)
	return reportingUtterance{u, r.says}, err
}

type reportingUtterance struct {
	pipeline.Utterance
	says string
}

func (u reportingUtterance) Finish(ctx context.Context) (string, error) {
	pipeline.Answered(ctx, u.says)
	return u.Utterance.Finish(ctx)
}

type reportingTTS struct {
	pipeline.Synthesizer
	says string
}

func (r reportingTTS) Synthesize(ctx context.Context, text string, emit func([]int16) error) error {
	pipeline.Answered(ctx, r.says)
	return r.Synthesizer.Synthesize(ctx, text, emit)
}

// TestTraceNamesWhoAnswered: the Trace names the provider each stage call
// reported with Answered (the first report standing), and the stage's own
// name where none reported.
func TestTraceNamesWhoAnswered(t *testing.T) {
	tests := []struct {
		name          string
		stages        pipeline.Stages
		asr, llm, tts string
	}{
		{
			name:   "no reports",
			stages: stages(pipelinetest.NewScripted("hi"), &pipelinetest.Tone{}),
			asr:    "scripted", llm: "echo", tts: "tone",
		},
		{
			name: "every stage reports",
			stages: pipeline.Stages{
				ASR: reportingASR{pipelinetest.NewScripted("hi"), "asr-b"},
				LLM: reportingLLM{&echo.Echo{}, []string{"llm-b", "llm-chain"}},
				TTS: reportingTTS{&pipelinetest.Tone{}, "tts-b"},
			},
			asr: "asr-b", llm: "llm-b", tts: "tts-b",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := start(t, pipeline.Config{Stages: tt.stages})
			h.speak(16000, 600*time.Millisecond)
			lat, _ := h.wait(0, pipeline.EventTurnLatency)
			if tr := lat.Trace; tr.ASR != tt.asr || tr.LLM != tt.llm || tr.TTS != tt.tts {
				t.Fatalf("trace names asr %q llm %q tts %q, want %q %q %q", tr.ASR, tr.LLM, tr.TTS, tt.asr, tt.llm, tt.tts)
			}
		})
	}
}

func TestAnsweredOutsideATurn(t *testing.T) {
	pipeline.Answered(context.Background(), "nobody") // does nothing, and does not panic
	var turn pipeline.Turn
	ctx := turn.StageContext(context.Background(), pipeline.StageVAD)
	pipeline.Answered(ctx, "vad")
	for _, s := range []pipeline.Stage{pipeline.StageVAD, pipeline.StageASR, pipeline.StageLLM, pipeline.StageTTS} {
		if got := turn.AnsweredBy(s); got != "" {
			t.Fatalf("AnsweredBy(%s) = %q", s, got)
		}
	}
}

// TestAnsweredDoesNotAllocate: a provider may report on every call.
func TestAnsweredDoesNotAllocate(t *testing.T) {
	var turn pipeline.Turn
	ctx, cancel := context.WithCancel(turn.StageContext(context.Background(), pipeline.StageTTS))
	defer cancel()
	if n := testing.AllocsPerRun(100, func() { pipeline.Answered(ctx, "tts-b") }); n != 0 {
		t.Fatalf("Answered allocates %v times a call", n)
	}
	if got := turn.AnsweredBy(pipeline.StageTTS); got != "tts-b" {
		t.Fatalf("AnsweredBy = %q", got)
	}
}
