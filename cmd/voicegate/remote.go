package main

import (
	"fmt"

	"github.com/voicegate/voicegate/configs"
	"github.com/voicegate/voicegate/pipeline"
	asropenai "github.com/voicegate/voicegate/providers/asr/openai"
	"github.com/voicegate/voicegate/providers/exec"
	"github.com/voicegate/voicegate/providers/httpx"
	llmopenai "github.com/voicegate/voicegate/providers/llm/openai"
	ttsopenai "github.com/voicegate/voicegate/providers/tts/openai"
)

// Well-known OpenAI-compatible services: their kind names a default base URL.
// Any other server works as kind "openai" with its own base_url.
var baseURLs = map[string]string{
	"openai":   "https://api.openai.com/v1",
	"groq":     "https://api.groq.com/openai/v1",
	"deepseek": "https://api.deepseek.com/v1",
	"ollama":   "http://127.0.0.1:11434/v1",
	"vllm":     "http://127.0.0.1:8000/v1",
	"speaches": "http://127.0.0.1:8000/v1",
	"kokoro":   "http://127.0.0.1:8880/v1",
}

// httpDefaults names the provider and fills the kind's base URL.
func httpDefaults(p configs.Provider, c *httpx.Config) {
	c.Name = p.Name
	if c.BaseURL == "" {
		c.BaseURL = baseURLs[p.Name]
	}
}

func withModel(kind, model string) string {
	if model == "" {
		return kind
	}
	return fmt.Sprintf("%s:%s", kind, model)
}

func newOpenAILLM(p configs.Provider, d deps) (pipeline.Generator, string, error) {
	var c llmopenai.Config
	if err := p.Decode(&c); err != nil {
		return nil, "", err
	}
	httpDefaults(p, &c.Config)
	g, err := llmopenai.New(c, d.log)
	return g, withModel(p.Name, c.Model), err
}

func newOpenAIASR(p configs.Provider, d deps) (pipeline.Recognizer, string, error) {
	var c asropenai.Config
	if err := p.Decode(&c); err != nil {
		return nil, "", err
	}
	httpDefaults(p, &c.Config)
	r, err := asropenai.New(c, d.log)
	return r, withModel(p.Name, c.Model), err
}

func newOpenAITTS(p configs.Provider, d deps) (pipeline.Synthesizer, string, error) {
	var c ttsopenai.Config
	if err := p.Decode(&c); err != nil {
		return nil, "", err
	}
	httpDefaults(p, &c.Config)
	s, err := ttsopenai.New(c, d.log)
	return s, withModel(p.Name, c.Model), err
}

func newExecASR(p configs.Provider, d deps) (pipeline.Recognizer, string, error) {
	var c exec.ASRConfig
	if err := p.Decode(&c); err != nil {
		return nil, "", err
	}
	c.Name = p.Name
	r, err := exec.NewRecognizer(c, d.log)
	return r, execName(c.Command), err
}

func newExecTTS(p configs.Provider, d deps) (pipeline.Synthesizer, string, error) {
	var c exec.TTSConfig
	if err := p.Decode(&c); err != nil {
		return nil, "", err
	}
	c.Name = p.Name
	s, err := exec.NewSynthesizer(c, d.log)
	return s, execName(c.Command), err
}

func execName(argv []string) string {
	if len(argv) == 0 {
		return "exec"
	}
	return "exec:" + argv[0]
}
