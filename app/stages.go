package app

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/voicegate/voicegate/configs"
	"github.com/voicegate/voicegate/gateway"
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
	// languages are the stage sets of the configured languages (languages:
	// in the file); a stage they leave empty is nil, the gateway's
	// default.
	languages map[string]gateway.Language
	// standIns are the default providers whose models were missing.
	standIns []standInNote
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
	stages, err := buildSet(b, "providers", cfg, reg, d)
	if err == nil {
		stages.VAD, err = buildChain(b, "providers", "vad", cfg.VAD, reg.VAD, d, oneVAD)
	}
	if err != nil {
		b.Close()
		return nil, err
	}
	b.stages = stages
	if len(b.standIns) > 0 {
		var swaps []string
		var errs []error
		for _, n := range b.standIns {
			swaps = append(swaps, n.used+" for "+n.wanted)
			errs = append(errs, n.err)
		}
		d.Log.Warn("offline models not found (make models fetches them): using "+strings.Join(swaps, ", "), zap.Error(errors.Join(errs...)))
	}
	return b, nil
}

// offlineStandIns are the engines that serve when a default provider's
// model files are missing (configs.Default names the first; a
// configuration file that names one gets an error instead).
var offlineStandIns = map[string]string{"silero": "energy", "piper": "flite"}

// standInNote records a default provider replaced by its stand-in.
type standInNote struct {
	wanted, used string
	err          error
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

// buildLanguages makes the stage set of every configured language into b;
// on an error, b still holds (and closes) what was made.
func buildLanguages(b *built, langs map[string]configs.Language, reg Registry, d Deps) error {
	for tag, l := range langs {
		stages, err := buildSet(b, "languages."+tag, configs.Providers{ASR: l.ASR, LLM: l.LLM, TTS: l.TTS}, reg, d)
		if err != nil {
			return err
		}
		if b.languages == nil {
			b.languages = make(map[string]gateway.Language, len(langs))
		}
		b.languages[tag] = gateway.Language{Stages: stages, SystemPrompt: l.SystemPrompt}
	}
	return nil
}

// buildSet makes the stages of cfg, the section key of the file; a stage
// with no provider is nil.
func buildSet(b *built, key string, cfg configs.Providers, reg Registry, d Deps) (pipeline.Stages, error) {
	asr, err := buildChain(b, key, "asr", cfg.ASR, reg.ASR, d, fallback.Recognizer)
	if err != nil {
		return pipeline.Stages{}, err
	}
	llm, err := buildChain(b, key, "llm", cfg.LLM, reg.LLM, d, fallback.Generator)
	if err != nil {
		return pipeline.Stages{}, err
	}
	tts, err := buildChain(b, key, "tts", cfg.TTS, reg.TTS, d, fallback.Synthesizer)
	return pipeline.Stages{ASR: asr, LLM: llm, TTS: tts}, err
}

// buildChain makes the providers of one stage, listed under key.stage in
// the file: none (the zero T), one, or a fallback chain of several. The
// first of a chain under providers: is recorded in b.primary.
func buildChain[T any](b *built, key, stage string, list []configs.Provider, kinds map[string]Maker[T], d Deps,
	chain func(*zap.Logger, ...T) (T, error)) (T, error) {
	var zero T
	var made []T
	for i, p := range list {
		mk, ok := kinds[p.Name]
		if !ok {
			return zero, fmt.Errorf("%s.%s[%d]: unknown provider %q (line %d); known: %s", key, stage, i, p.Name, p.Line(), kindsOf(kinds))
		}
		start := time.Now()
		v, err := mk(p, d)
		if standIn, ok := offlineStandIns[p.Name]; ok && err != nil && p.Line() == 0 && (errors.Is(err, fs.ErrNotExist) || errors.Is(err, errors.ErrUnsupported)) {
			// The built-in default's model is not there (or this build has
			// no cgo): the engine it replaces serves instead, and
			// buildStages says so once.
			b.standIns = append(b.standIns, standInNote{wanted: p.Name, used: standIn, err: err})
			if mk, ok = kinds[standIn]; ok {
				v, err = mk(configs.Provider{Name: standIn}, d)
			}
		}
		if err != nil {
			return zero, fmt.Errorf("%s.%s[%d] %s: %w", key, stage, i, p.Name, err)
		}
		if c, ok := any(v).(closer); ok {
			b.closers = append(b.closers, c)
		}
		d.Log.Debug("provider ready", zap.String("stage", stage), zap.String("provider", pipeline.NameOf(v)), zap.Duration("took", time.Since(start)))
		made = append(made, v)
	}
	switch {
	case len(made) == 0:
		return zero, nil
	case len(made) == 1:
		return made[0], nil
	case key != "providers":
		return chain(d.Log, made...)
	}
	if b.primary == nil {
		b.primary = make(map[string]string)
	}
	b.primary[stage] = pipeline.NameOf(made[0])
	return chain(d.Log, made...)
}
