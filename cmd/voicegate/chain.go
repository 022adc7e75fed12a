package main

import (
	"github.com/voicegate/voicegate/pipeline"
	"github.com/voicegate/voicegate/providers/fallback"
)

// Fallback chains: the first provider of a stage is used until it fails in a
// way retrying cannot help (or its breaker is open), then the next.

func chainASR(list []pipeline.Recognizer, d deps) (pipeline.Recognizer, error) {
	return fallback.Recognizer(d.log, list...)
}

func chainLLM(list []pipeline.Generator, d deps) (pipeline.Generator, error) {
	return fallback.Generator(d.log, list...)
}

func chainTTS(list []pipeline.Synthesizer, d deps) (pipeline.Synthesizer, error) {
	return fallback.Synthesizer(d.log, list...)
}
