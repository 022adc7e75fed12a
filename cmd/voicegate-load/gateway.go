package main

import (
	"time"

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
	r.ASR["scripted"] = app.Decoded(func(c scriptedConfig, _ app.Deps) (pipeline.Recognizer, error) {
		s := pipelinetest.NewScripted(c.Transcripts...)
		s.Latency, s.PartialEvery = c.Latency, c.PartialEvery
		return s, nil
	})
	r.TTS["tone"] = app.Decoded(func(c toneConfig, _ app.Deps) (pipeline.Synthesizer, error) {
		return &pipelinetest.Tone{Rate: c.Rate, Latency: c.Latency, PerRune: c.PerRune, Realtime: c.Realtime}, nil
	})
	return r
}

type scriptedConfig struct {
	Transcripts  []string      `yaml:"transcripts"`
	Latency      time.Duration `yaml:"latency"`
	PartialEvery time.Duration `yaml:"partial_every"`
}

type toneConfig struct {
	Rate     int           `yaml:"rate"`
	Latency  time.Duration `yaml:"latency"`
	PerRune  time.Duration `yaml:"per_rune"`
	Realtime bool          `yaml:"realtime"`
}
