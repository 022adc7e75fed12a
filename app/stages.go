package app

import (
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/voicegate/voicegate/configs"
	"github.com/voicegate/voicegate/pipeline"
	"github.com/voicegate/voicegate/providers/fallback"
)

// closer is a provider holding resources to release at exit.
type closer interface{ Close() error }

// built is the stage set made from a configuration, with what must be
// closed.
type built struct {
	stages  pipeline.Stages
	closers []closer
	// primary names the first provider of each stage ("asr", "llm",
	// "tts") that is a fallback chain.
	primary map[string]string
}

func (b *built) Close() {
	for _, c := range b.closers {
		c.Close()
	}
}

// buildStages makes every configured provider. A stage with several
// providers becomes a fallback chain: the first is used until it fails in a
// way retrying cannot help (or its breaker is open), then the next.
func buildStages(cfg configs.Providers, reg Registry, d Deps) (*built, error) {
	b := &built{}
	asr, err := buildChain(b, "asr", cfg.ASR, reg.ASR, d, fallback.Recognizer)
	if err == nil {
		var llm pipeline.Generator
		llm, err = buildChain(b, "llm", cfg.LLM, reg.LLM, d, fallback.Generator)
		if err == nil {
			var tts pipeline.Synthesizer
			tts, err = buildChain(b, "tts", cfg.TTS, reg.TTS, d, fallback.Synthesizer)
			b.stages = pipeline.Stages{ASR: asr, LLM: llm, TTS: tts}
		}
	}
	if err == nil {
		b.stages.VAD, err = buildChain(b, "vad", cfg.VAD, reg.VAD, d, oneVAD)
	}
	if err != nil {
		b.Close()
		return nil, err
	}
	return b, nil
}

// oneVAD refuses a list of voice activity models (configs.Validate does
// too): each session's detector has one.
func oneVAD(_ *zap.Logger, vs ...pipeline.VoiceActivity) (pipeline.VoiceActivity, error) {
	return nil, fmt.Errorf("providers.vad: %d providers; it takes one", len(vs))
}

// vadName is what session.started reports for the voice activity model.
func (b *built) vadName() string {
	if b.stages.VAD == nil {
		return "energy"
	}
	return pipeline.NameOf(b.stages.VAD)
}

func buildChain[T any](b *built, stage string, list []configs.Provider, kinds map[string]Maker[T], d Deps,
	chain func(*zap.Logger, ...T) (T, error)) (T, error) {
	var zero T
	var made []T
	for i, p := range list {
		mk, ok := kinds[p.Name]
		if !ok {
			return zero, fmt.Errorf("providers.%s[%d]: unknown provider %q (line %d); known: %s", stage, i, p.Name, p.Line(), kindsOf(kinds))
		}
		start := time.Now()
		v, err := mk(p, d)
		if err != nil {
			return zero, fmt.Errorf("providers.%s[%d] %s: %w", stage, i, p.Name, err)
		}
		if c, ok := any(v).(closer); ok {
			b.closers = append(b.closers, c)
		}
		d.Log.Debug("provider ready", zap.String("stage", stage), zap.String("provider", pipeline.NameOf(v)), zap.Duration("took", time.Since(start)))
		made = append(made, v)
	}
	if len(made) == 1 {
		return made[0], nil
	}
	if b.primary == nil {
		b.primary = make(map[string]string)
	}
	b.primary[stage] = pipeline.NameOf(made[0])
	return chain(d.Log, made...)
}
