package gateway_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/voicegate/voicegate/audio"
	"github.com/voicegate/voicegate/gateway"
	"github.com/voicegate/voicegate/gateway/protocol"
	"github.com/voicegate/voicegate/pipeline"
	// The gateway never imports a provider; an external test may, to run
	// the real fallback chain.
	"github.com/voicegate/voicegate/providers/fallback"
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

// TestFallbackNamesWhoAnswered: with a fallback chain per stage whose first
// member is down, session.started shows each chain, while turn.latency
// and the latency metrics name the member that answered.
func TestFallbackNamesWhoAnswered(t *testing.T) {
	fast := fastStages("hello there")
	asr, err := fallback.Recognizer(nil, outage{"asr-down"}, fast.ASR)
	if err != nil {
		t.Fatal(err)
	}
	llm, err := fallback.Generator(nil, outage{"llm-down"}, fast.LLM)
	if err != nil {
		t.Fatal(err)
	}
	tts, err := fallback.Synthesizer(nil, outage{"tts-down"}, fast.TTS)
	if err != nil {
		t.Fatal(err)
	}
	s := newServer(t, func(o *gateway.Options) { o.Stages = pipeline.Stages{ASR: asr, LLM: llm, TTS: tts} })
	c := s.dial(t, dialOpts{})
	defer c.close()
	st := c.start(nil)
	if want := (protocol.Providers{VAD: "energy", ASR: "asr-down>scripted", LLM: "llm-down>echo", TTS: "tts-down>tone"}); st.Providers != want {
		t.Fatalf("session.started providers %+v, want %+v", st.Providers, want)
	}
	c.speak(16000, 600*time.Millisecond)
	tr := c.awaitTurn()
	if p := tr.latency.Providers; p == nil || *p != (protocol.TurnProviders{ASR: "scripted", LLM: "echo", TTS: "tone"}) {
		t.Fatalf("turn.latency providers %+v", p)
	}
	for _, m := range []struct{ stage, answered, chain string }{
		{"asr_final", "scripted", "asr-down>scripted"},
		{"llm_first_token", "echo", "llm-down>echo"},
		{"tts_first_audio", "tone", "tts-down>tone"},
		{"first_audio_sent", "tone", "tts-down>tone"},
	} {
		if n := metric(t, s.reg, "voicegate_turn_latency_seconds", map[string]string{"stage": m.stage, "provider": m.answered}); n != 1 {
			t.Errorf("%s observed %v times for %s, want once", m.stage, n, m.answered)
		}
		if n := metric(t, s.reg, "voicegate_turn_latency_seconds", map[string]string{"stage": m.stage, "provider": m.chain}); n != 0 {
			t.Errorf("%s observed %v times for the chain %s", m.stage, n, m.chain)
		}
	}
}

// TestTurnLatencyProviders: a typed text-only turn names only the stage it
// ran.
func TestTurnLatencyProviders(t *testing.T) {
	s := newServer(t, nil)
	c := s.dial(t, dialOpts{})
	defer c.close()
	c.start(map[string]any{"text_only": true})
	c.sendJSON(map[string]any{"type": "input.text", "text": "hi"})
	tr := c.awaitTurn()
	if p := tr.latency.Providers; p == nil || *p != (protocol.TurnProviders{LLM: "echo"}) {
		t.Fatalf("turn.latency providers %+v", p)
	}
}
