package app

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/voicegate/voicegate/configs"
	"github.com/voicegate/voicegate/pipeline"
	"github.com/voicegate/voicegate/pipeline/pipelinetest"
	"github.com/voicegate/voicegate/providers/llm/echo"
)

// countingRegistry is Builtin with a tone TTS and an echo LLM whose calls
// are counted.
func countingRegistry(tts, llm *atomic.Int32) Registry {
	r := Builtin()
	r.TTS["tone"] = Decoded(func(c pipelinetest.ToneConfig, _ Deps) (pipeline.Synthesizer, error) {
		tone := pipelinetest.NewToneFrom(c)
		return struct {
			pipeline.Named
			pipeline.Synthesizer
		}{tone, &countedSynth{tone, tts}}, nil
	})
	r.LLM["echo"] = Decoded(func(c echo.Config, _ Deps) (pipeline.Generator, error) {
		e := echo.New(c)
		return struct {
			pipeline.Named
			pipeline.Generator
		}{e, pipeline.GeneratorFunc(func(ctx context.Context, msgs []pipeline.Message, emit func(string) error) error {
			llm.Add(1)
			return e.Generate(ctx, msgs, emit)
		})}, nil
	})
	return r
}

type countedSynth struct {
	pipeline.Synthesizer
	calls *atomic.Int32
}

func (c *countedSynth) Synthesize(ctx context.Context, text string, emit func([]int16) error) error {
	c.calls.Add(1)
	return c.Synthesizer.Synthesize(ctx, text, emit)
}

// TestCachesWired: the cache: section puts the caches in front of the
// configured stages, keeping their names, and registers their metrics.
func TestCachesWired(t *testing.T) {
	tests := []struct {
		name           string
		yaml           string
		ttsCalls       int32 // for one sentence said twice
		llmCalls       int32 // for one conversation answered twice
		metricsPresent bool
	}{
		{name: "defaults: sentences cached, answers not", yaml: "", ttsCalls: 1, llmCalls: 2, metricsPresent: true},
		{name: "answers too", yaml: "cache: {llm: {enabled: true}}", ttsCalls: 1, llmCalls: 1, metricsPresent: true},
		{name: "none", yaml: "cache: {tts: {enabled: false}}", ttsCalls: 2, llmCalls: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var ttsCalls, llmCalls atomic.Int32
			cfg := configs.Default()
			doc := "providers: {tts: [{name: tone, rate: 16000}], llm: [{name: echo}]}\n" + tt.yaml
			if err := configs.Parse([]byte(doc), &cfg); err != nil {
				t.Fatal(err)
			}
			if err := cfg.Validate(); err != nil {
				t.Fatal(err)
			}
			b, err := buildStages(cfg.Providers, countingRegistry(&ttsCalls, &llmCalls), Deps{Log: zap.NewNop()})
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			reg := prometheus.NewRegistry()
			if err := withCaches(b, cfg, reg, zap.NewNop()); err != nil {
				t.Fatal(err)
			}
			if got := pipeline.NameOf(b.stages.TTS) + " " + pipeline.NameOf(b.stages.LLM); got != "tone echo" {
				t.Errorf("stages named %q, want the providers' names", got)
			}
			msgs := []pipeline.Message{{Role: pipeline.RoleUser, Content: "hello"}}
			for range 2 {
				if err := b.stages.TTS.Synthesize(t.Context(), "Hello there.", func([]int16) error { return nil }); err != nil {
					t.Fatal(err)
				}
				if err := b.stages.LLM.Generate(t.Context(), msgs, func(string) error { return nil }); err != nil {
					t.Fatal(err)
				}
			}
			if ttsCalls.Load() != tt.ttsCalls || llmCalls.Load() != tt.llmCalls {
				t.Errorf("providers called tts %d, llm %d times; want %d, %d", ttsCalls.Load(), llmCalls.Load(), tt.ttsCalls, tt.llmCalls)
			}
			families, err := reg.Gather()
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, f := range families {
				names = append(names, f.GetName())
			}
			if got := strings.Contains(strings.Join(names, " "), "voicegate_cache_hits_total"); got != tt.metricsPresent {
				t.Errorf("cache metrics registered: %v, want %v (%v)", got, tt.metricsPresent, names)
			}
		})
	}
}

// TestCacheVariant: the keys change with a provider's settings, not with
// how the file writes them.
func TestCacheVariant(t *testing.T) {
	v := func(doc string) string {
		t.Helper()
		cfg := configs.Default()
		if err := configs.Parse([]byte(doc), &cfg); err != nil {
			t.Fatal(err)
		}
		s, err := variant(cfg.Providers.TTS)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	base := v("providers: {tts: [{name: openai, model: tts-1, voice: alloy}]}")
	if same := v("providers:\n  tts:\n    - voice: alloy # the default\n      name: openai\n      model: tts-1\n"); same != base {
		t.Error("the same settings written otherwise change the keys")
	}
	for _, doc := range []string{
		"providers: {tts: [{name: openai, model: tts-1, voice: nova}]}",
		"providers: {tts: [{name: openai, model: tts-1-hd, voice: alloy}]}",
		"providers: {tts: [{name: kokoro, model: tts-1, voice: alloy}]}",
		"providers: {tts: [{name: openai, model: tts-1, voice: alloy}, {name: flite}]}",
	} {
		if v(doc) == base {
			t.Errorf("%s gives the keys of another configuration", doc)
		}
	}
}
