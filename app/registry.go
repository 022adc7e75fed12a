package app

import (
	"maps"
	"slices"
	"strings"

	"go.uber.org/zap"

	"github.com/voicegate/voicegate/configs"
	"github.com/voicegate/voicegate/pipeline"
)

// Deps is what a provider constructor may use besides its own settings.
type Deps struct {
	Log *zap.Logger
	// LogContent is log.log_content: a provider may log what users said,
	// or what its engine echoes of it, only when it is set.
	LogContent bool
	// ContentHasher fingerprints such content otherwise. It is the
	// gateway's too, so that fingerprints match across the logs.
	ContentHasher *pipeline.ContentHasher
}

// Maker builds one provider of a stage from its configuration entry.
type Maker[T any] func(p configs.Provider, d Deps) (T, error)

// Registry maps the provider kinds a configuration may name, per stage, to
// their constructors. The map key is the `name:` of a providers entry.
type Registry struct {
	ASR map[string]Maker[pipeline.Recognizer]
	LLM map[string]Maker[pipeline.Generator]
	TTS map[string]Maker[pipeline.Synthesizer]
	// VAD makes the voice activity model; a Maker may return nil, the
	// energy detector.
	VAD map[string]Maker[pipeline.VoiceActivity]
	// Tools are run by the gateway when the model calls them, in every
	// session (gateway.Options.Tools): a program that calls Main with
	// them gives its model functions of its own. They need a language
	// model that is a pipeline.ToolGenerator. Builtin has none.
	Tools []pipeline.Tool
}

// Decoded makes a Maker from a constructor that takes a provider
// package's own Config: the entry's settings decode strictly into it (its
// yaml tags name the keys; its zero values mean its defaults, which the
// package states once).
func Decoded[C, T any](newFn func(C, Deps) (T, error)) Maker[T] {
	return func(p configs.Provider, d Deps) (T, error) {
		var c C
		if err := p.Decode(&c); err != nil {
			var zero T
			return zero, err
		}
		return newFn(c, d)
	}
}

func kindsOf[M any](m map[string]M) string {
	return strings.Join(slices.Sorted(maps.Keys(m)), ", ")
}
