package app

import (
	"github.com/voicegate/voicegate/pipeline"
	asropenai "github.com/voicegate/voicegate/providers/asr/openai"
	"github.com/voicegate/voicegate/providers/asr/pocketsphinx"
	"github.com/voicegate/voicegate/providers/asr/sherpa"
	"github.com/voicegate/voicegate/providers/exec"
	"github.com/voicegate/voicegate/providers/httpx"
	"github.com/voicegate/voicegate/providers/llm/echo"
	llmopenai "github.com/voicegate/voicegate/providers/llm/openai"
	"github.com/voicegate/voicegate/providers/tts/espeakng"
	"github.com/voicegate/voicegate/providers/tts/flite"
	ttsopenai "github.com/voicegate/voicegate/providers/tts/openai"
	"github.com/voicegate/voicegate/providers/tts/piper"
	"github.com/voicegate/voicegate/providers/vad/silero"
)

// Builtin returns the provider kinds voicegate ships, one registration
// line each. A new engine is a provider package (its Config, New, Name)
// plus one line here; a new OpenAI-compatible service is one row of
// vendors.
func Builtin() Registry {
	r := Registry{
		ASR: map[string]Maker[pipeline.Recognizer]{},
		LLM: map[string]Maker[pipeline.Generator]{},
		TTS: map[string]Maker[pipeline.Synthesizer]{},
		VAD: map[string]Maker[pipeline.VoiceActivity]{},
	}
	r.ASR["pocketsphinx"] = Decoded(func(c pocketsphinx.Config, _ Deps) (pipeline.Recognizer, error) { return pocketsphinx.New(c) })
	r.ASR["sherpa"] = Decoded(func(c sherpa.Config, _ Deps) (pipeline.Recognizer, error) { return sherpa.New(c) })
	r.ASR["exec"] = Decoded(func(c exec.ASRConfig, d Deps) (pipeline.Recognizer, error) {
		c.Content = exec.Content{LogContent: d.LogContent, ContentHasher: d.ContentHasher}
		return exec.NewRecognizer(c, d.Log)
	})
	r.LLM["echo"] = Decoded(func(c echo.Config, _ Deps) (pipeline.Generator, error) { return echo.New(c), nil })
	r.TTS["flite"] = Decoded(func(c flite.Config, _ Deps) (pipeline.Synthesizer, error) { return flite.New(c) })
	r.TTS["espeakng"] = Decoded(func(c espeakng.Config, _ Deps) (pipeline.Synthesizer, error) { return espeakng.New(c) })
	r.TTS["piper"] = Decoded(func(c piper.Config, _ Deps) (pipeline.Synthesizer, error) { return piper.New(c) })
	r.TTS["exec"] = Decoded(func(c exec.TTSConfig, d Deps) (pipeline.Synthesizer, error) {
		c.Content = exec.Content{LogContent: d.LogContent, ContentHasher: d.ContentHasher}
		return exec.NewSynthesizer(c, d.Log)
	})
	r.VAD["energy"] = Decoded(func(struct{}, Deps) (pipeline.VoiceActivity, error) { return nil, nil }) // nil: package vad's own detector
	r.VAD["silero"] = Decoded(func(c silero.Config, _ Deps) (pipeline.VoiceActivity, error) { return silero.New(c) })
	for _, v := range vendors {
		v.register(r)
	}
	return r
}

// vendor is an OpenAI-compatible service: its kind name picks a default
// base URL and the stages it serves. Any other server is kind "openai"
// with its own base_url.
type vendor struct {
	name, baseURL string
	asr, llm, tts bool
}

var vendors = []vendor{
	{name: "openai", baseURL: "https://api.openai.com/v1", asr: true, llm: true, tts: true},
	{name: "groq", baseURL: "https://api.groq.com/openai/v1", asr: true, llm: true},
	{name: "deepseek", baseURL: "https://api.deepseek.com/v1", llm: true},
	{name: "ollama", baseURL: "http://127.0.0.1:11434/v1", asr: true, llm: true},
	{name: "vllm", baseURL: "http://127.0.0.1:8000/v1", llm: true},
	{name: "speaches", baseURL: "http://127.0.0.1:8000/v1", asr: true, tts: true},
	{name: "kokoro", baseURL: "http://127.0.0.1:8880/v1", tts: true},
}

// defaults names the provider after the vendor and fills its base URL.
func (v vendor) defaults(c *httpx.Config) {
	c.Name = v.name
	if c.BaseURL == "" {
		c.BaseURL = v.baseURL
	}
}

func (v vendor) register(r Registry) {
	if v.asr {
		r.ASR[v.name] = Decoded(func(c asropenai.Config, d Deps) (pipeline.Recognizer, error) {
			v.defaults(&c.Config)
			return asropenai.New(c, d.Log)
		})
	}
	if v.llm {
		r.LLM[v.name] = Decoded(func(c llmopenai.Config, d Deps) (pipeline.Generator, error) {
			v.defaults(&c.Config)
			return llmopenai.New(c, d.Log)
		})
	}
	if v.tts {
		r.TTS[v.name] = Decoded(func(c ttsopenai.Config, d Deps) (pipeline.Synthesizer, error) {
			v.defaults(&c.Config)
			return ttsopenai.New(c, d.Log)
		})
	}
}
