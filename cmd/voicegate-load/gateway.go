package main

import (
	"github.com/voicegate/voicegate/app"
	"github.com/voicegate/voicegate/pipeline"
	"github.com/voicegate/voicegate/pipeline/pipelinetest"
)

// gatewayCommand, as the first argument, runs this binary as the gateway
// under load: voicegate's server with its built-in providers plus the
// synthetic ones the load config names, which cost nothing and answer with
// fixed latencies, so that what is measured is the gateway.
const gatewayCommand = "gateway"

func loadRegistry() app.Registry {
	r := app.Builtin()
	r.ASR["scripted"] = app.Decoded(func(c pipelinetest.ScriptedConfig, _ app.Deps) (pipeline.Recognizer, error) {
		return pipelinetest.NewScriptedFrom(c), nil
	})
	r.TTS["tone"] = app.Decoded(func(c pipelinetest.ToneConfig, _ app.Deps) (pipeline.Synthesizer, error) {
		return pipelinetest.NewToneFrom(c), nil
	})
	return r
}
