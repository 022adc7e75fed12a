package main

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/voicegate/voicegate/configs"
	"github.com/voicegate/voicegate/pipeline"
	"github.com/voicegate/voicegate/pipeline/pipelinetest"
	"github.com/voicegate/voicegate/providers/asr/pocketsphinx"
	"github.com/voicegate/voicegate/providers/tts/espeakng"
	"github.com/voicegate/voicegate/providers/tts/flite"
)

// deps is what provider constructors may use.
type deps struct {
	log *zap.Logger
}

// closer is a provider holding resources to release at exit.
type closer interface{ Close() error }

// A provider constructor decodes its settings from p and builds the stage.
type (
	asrMaker func(p configs.Provider, d deps) (pipeline.Recognizer, string, error)
	llmMaker func(p configs.Provider, d deps) (pipeline.Generator, string, error)
	ttsMaker func(p configs.Provider, d deps) (pipeline.Synthesizer, string, error)
)

// The provider kinds a config may name, per stage. The OpenAI-compatible
// kinds share a constructor; the kind picks the default base URL.
var (
	asrKinds = map[string]asrMaker{
		"pocketsphinx": newPocketsphinx,
		"openai":       newOpenAIASR,
		"groq":         newOpenAIASR,
		"ollama":       newOpenAIASR,
		"speaches":     newOpenAIASR,
		"exec":         newExecASR,
		"scripted":     newScripted,
	}
	llmKinds = map[string]llmMaker{
		"echo":     newEcho,
		"openai":   newOpenAILLM,
		"groq":     newOpenAILLM,
		"deepseek": newOpenAILLM,
		"ollama":   newOpenAILLM,
		"vllm":     newOpenAILLM,
	}
	ttsKinds = map[string]ttsMaker{
		"flite":    newFlite,
		"espeakng": newEspeak,
		"openai":   newOpenAITTS,
		"speaches": newOpenAITTS,
		"kokoro":   newOpenAITTS,
		"exec":     newExecTTS,
		"tone":     newTone,
	}
)

func kindsOf[M any](m map[string]M) string {
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

func newPocketsphinx(p configs.Provider, _ deps) (pipeline.Recognizer, string, error) {
	var c struct {
		HMM      string `yaml:"hmm"`
		LM       string `yaml:"lm"`
		Dict     string `yaml:"dict"`
		PoolSize int    `yaml:"pool_size"`
		Preload  int    `yaml:"preload"`
	}
	if err := p.Decode(&c); err != nil {
		return nil, "", err
	}
	r, err := pocketsphinx.New(pocketsphinx.Config{HMM: c.HMM, LM: c.LM, Dict: c.Dict, PoolSize: c.PoolSize, Preload: c.Preload})
	return r, "pocketsphinx", err
}

func newScripted(p configs.Provider, _ deps) (pipeline.Recognizer, string, error) {
	var c struct {
		Transcripts  []string         `yaml:"transcripts"`
		Latency      configs.Duration `yaml:"latency"`
		PartialEvery configs.Duration `yaml:"partial_every"`
	}
	if err := p.Decode(&c); err != nil {
		return nil, "", err
	}
	if len(c.Transcripts) == 0 {
		c.Transcripts = []string{"hello there"}
	}
	s := pipelinetest.NewScripted(c.Transcripts...)
	s.Latency, s.PartialEvery = c.Latency.D(), c.PartialEvery.D()
	return s, "scripted", nil
}

func newEcho(p configs.Provider, _ deps) (pipeline.Generator, string, error) {
	var c struct {
		FirstToken configs.Duration `yaml:"first_token"`
		PerToken   configs.Duration `yaml:"per_token"`
		Prefix     string           `yaml:"prefix"`
	}
	if err := p.Decode(&c); err != nil {
		return nil, "", err
	}
	return &pipelinetest.Echo{FirstToken: c.FirstToken.D(), PerToken: c.PerToken.D(), Prefix: c.Prefix}, "echo", nil
}

func newFlite(p configs.Provider, _ deps) (pipeline.Synthesizer, string, error) {
	var c struct {
		Voice string  `yaml:"voice"`
		Rate  float64 `yaml:"rate"`
	}
	if err := p.Decode(&c); err != nil {
		return nil, "", err
	}
	s, err := flite.New(flite.Config{Voice: c.Voice, Rate: c.Rate})
	return s, "flite", err
}

func newEspeak(p configs.Provider, _ deps) (pipeline.Synthesizer, string, error) {
	var c struct {
		Voice string `yaml:"voice"`
		Rate  int    `yaml:"rate"`
		Pitch int    `yaml:"pitch"`
	}
	if err := p.Decode(&c); err != nil {
		return nil, "", err
	}
	s, err := espeakng.New(espeakng.Config{Voice: c.Voice, Rate: c.Rate, Pitch: c.Pitch})
	name := "espeakng"
	if c.Voice != "" {
		name += ":" + c.Voice
	}
	return s, name, err
}

func newTone(p configs.Provider, _ deps) (pipeline.Synthesizer, string, error) {
	var c struct {
		Rate     int              `yaml:"rate"`
		Latency  configs.Duration `yaml:"latency"`
		PerRune  configs.Duration `yaml:"per_rune"`
		Realtime bool             `yaml:"realtime"`
	}
	if err := p.Decode(&c); err != nil {
		return nil, "", err
	}
	return &pipelinetest.Tone{Rate: c.Rate, Latency: c.Latency.D(), PerRune: c.PerRune.D(), Realtime: c.Realtime}, "tone", nil
}

// built is the stage set made from a config, with what must be closed.
type built struct {
	stages  pipeline.Stages
	closers []closer
}

func (b *built) Close() {
	for _, c := range b.closers {
		c.Close()
	}
}

func (b *built) keep(v any) {
	if c, ok := v.(closer); ok {
		b.closers = append(b.closers, c)
	}
}

// buildStages makes every configured provider. A stage with several
// providers becomes a fallback chain.
func buildStages(cfg configs.Providers, d deps) (*built, error) {
	b := &built{}
	asr, err := buildChain(b, "asr", cfg.ASR, asrKinds, d, chainASR)
	if err != nil {
		b.Close()
		return nil, err
	}
	llm, err := buildChain(b, "llm", cfg.LLM, llmKinds, d, chainLLM)
	if err != nil {
		b.Close()
		return nil, err
	}
	tts, err := buildChain(b, "tts", cfg.TTS, ttsKinds, d, chainTTS)
	if err != nil {
		b.Close()
		return nil, err
	}
	b.stages = pipeline.Stages{ASR: asr, LLM: llm, TTS: tts}
	return b, nil
}

// buildChain makes a stage's providers. Each names itself (pipeline.NameOf);
// the name a constructor returns is not used.
func buildChain[T any, M ~func(configs.Provider, deps) (T, string, error)](b *built, stage string, list []configs.Provider, kinds map[string]M, d deps, chain func([]T, deps) (T, error)) (T, error) {
	var zero T
	var made []T
	for i, p := range list {
		mk, ok := kinds[p.Name]
		if !ok {
			return zero, fmt.Errorf("providers.%s[%d]: unknown provider %q (line %d); known: %s", stage, i, p.Name, p.Line(), kindsOf(kinds))
		}
		start := time.Now()
		v, _, err := mk(p, d)
		if err != nil {
			return zero, fmt.Errorf("providers.%s[%d] %s: %w", stage, i, p.Name, err)
		}
		b.keep(v)
		d.log.Debug("provider ready", zap.String("stage", stage), zap.String("provider", pipeline.NameOf(v)), zap.Duration("took", time.Since(start)))
		made = append(made, v)
	}
	if len(made) == 1 {
		return made[0], nil
	}
	return chain(made, d)
}
