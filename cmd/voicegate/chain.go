package main

import (
	"github.com/voicegate/voicegate/pipeline"
	"github.com/voicegate/voicegate/providers/fallback"
)

// Fallback chains: the first provider of a stage is used until it fails in a
// way retrying cannot help (or its breaker is open), then the next.

func chainASR(list []named[pipeline.Recognizer], d deps) (pipeline.Recognizer, error) {
	return fallback.Recognizer(d.log, toFallback(list)...)
}

func chainLLM(list []named[pipeline.Generator], d deps) (pipeline.Generator, error) {
	return fallback.Generator(d.log, toFallback(list)...)
}

func chainTTS(list []named[pipeline.Synthesizer], d deps) (pipeline.Synthesizer, error) {
	return fallback.Synthesizer(d.log, toFallback(list)...)
}

func toFallback[T any](list []named[T]) []fallback.Named[T] {
	out := make([]fallback.Named[T], len(list))
	for i, n := range list {
		out[i] = fallback.Named[T]{Name: n.name, Provider: n.v}
	}
	return out
}
